package testkit

import (
	"bytes"
	"testing"
	"time"
)

// A script delivers a mail whose lines start with dots to a real SMTP
// server: the server gets the body back unstuffed, and every step's reply
// is returned.
func TestSMTPConnScript(t *testing.T) {
	s := StartSink(t)
	body := []byte("From: a@client.test\r\nTo: b@sink.test\r\nSubject: dots\r\n\r\n.leading dot\r\n..two\r\nlast")
	c := DialSMTP(t, s.Addr)
	replies := c.Run(
		Expect(220),
		Cmd("EHLO client.test", 250),
		Cmd("MAIL FROM:<a@client.test>", 250).Text("2.0.0"),
		Cmd("RCPT TO:<b@sink.test>", 250),
		Cmd("DATA", 354),
		Body(body, 250),
		Cmd("QUIT", 221),
		Closed(),
	)
	if len(replies) != 8 || replies[5].Code != 250 || replies[7].Code != 0 {
		t.Fatalf("replies %+v", replies)
	}
	got := s.WaitCount(t, "b@sink.test", 1, 5*time.Second)[0].Raw
	if want := append(body, '\r', '\n'); !bytes.Equal(got, want) {
		t.Fatalf("sink got %q, want %q", got, want)
	}
}

func TestDotStuff(t *testing.T) {
	for in, want := range map[string]string{
		"":             "\r\n.\r\n",
		"a":            "a\r\n.\r\n",
		"a\r\n":        "a\r\n.\r\n",
		".a\r\n.b":     "..a\r\n..b\r\n.\r\n",
		"a\n.b\r\n":    "a\n.b\r\n.\r\n", // a bare LF does not end a line
		"a\r\n..\r\nb": "a\r\n...\r\nb\r\n.\r\n",
	} {
		if got := string(DotStuff([]byte(in))); got != want {
			t.Errorf("DotStuff(%q) = %q, want %q", in, got, want)
		}
	}
}
