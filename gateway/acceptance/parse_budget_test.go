package acceptance

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"helpdesk/gateway/internal/bench"
)

var _ = claim("`[smtp] parse_budget` bounds the mail parsed at once: mails wait for it (a mail larger than the budget goes through alone); 1.9 MiB mails of 8-bit text their declared charset does not decode, sent together, all get 250 and are stored raw byte for byte",
	"TestUndecodableMailsUnderParseBudget")

// TestUndecodableMailsUnderParseBudget sends, at once, 20 mails of 1.9 MiB
// whose 8-bit text does not decode in the declared charset (us-ascii or
// iso-2022-jp, issue 11) to a daemon whose parse_budget (1 MiB) is smaller
// than any of them: each may only be parsed alone, so the others wait
// for the budget. Every one must get 250 and be stored raw, byte for byte
// (after our Received line), and the budget must be free afterwards.
func TestUndecodableMailsUnderParseBudget(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{SMTP: "parse_budget = \"1MiB\"\nmax_connections_per_ip = 50\nmax_connections = 100"})
	gen := bench.NewGen("budget", nil)
	const n = 20
	raws := make([][]byte, n)
	for i := range raws {
		raws[i] = gen.CharsetFlood(i).Raw
	}
	if len(raws[0]) < 1<<20 || !bytes.Contains(raws[0], []byte("charset=us-ascii")) || !bytes.Contains(raws[1], []byte("charset=iso-2022-jp")) {
		t.Fatalf("the test mails are not what this test is about: %d bytes, header %q", len(raws[0]), raws[0][:300])
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range raws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.Send("sender@customer.example", []string{"support@example.com"}, raws[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("mail %d (%d bytes) did not get 250: %v", i, len(raws[i]), err)
		}
	}
	if got := e.Metric("helpdesk_messages_accepted_total"); got != n {
		t.Errorf("helpdesk_messages_accepted_total = %v, want %d", got, n)
	}
	if got := e.Metric("helpdesk_smtp_parse_budget_used_bytes"); got != 0 {
		t.Errorf("parse budget still holds %v bytes after every mail was answered", got)
	}

	// Each mail is kept raw in its content-addressed blob: our Received
	// line, then exactly the bytes that were sent.
	blobs, err := filepath.Glob(filepath.Join(e.Dir, "blobs", "*", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	found := make([]bool, n)
	for _, path := range blobs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, raw := range raws {
			if found[i] || !bytes.HasSuffix(b, raw) {
				continue
			}
			head := string(b[:len(b)-len(raw)])
			if !strings.HasPrefix(head, "Received: from ") || strings.Count(head, "\r\n") != 3 {
				t.Errorf("mail %d is stored after %q, want only our Received line", i, head)
			}
			found[i] = true
		}
	}
	for i, ok := range found {
		if !ok {
			t.Errorf("mail %d (%d bytes) is not stored byte for byte (%d blobs)", i, len(raws[i]), len(blobs))
		}
	}
}
