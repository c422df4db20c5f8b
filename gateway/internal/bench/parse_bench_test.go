package bench

import (
	"bytes"
	"testing"

	"helpdesk/threading"
	"helpdesk/threading/machine"
)

// The parser's cost on the bench's own mails. These benchmarks live with
// the bench, not in threading, so that threading (tests included) imports
// nothing of gateway: they measure threading on gateway's test mail.

// The bench's new-ticket mail (4 KiB text from a distinct sender): the
// per-mail parsing cost behind `helpdesk bench`'s msg/s.
func BenchmarkParseNewTicket4K(b *testing.B) {
	benchParse(b, threading.ParseOptions{ReplyMarker: "##- Reply above this line -##"})
}

// The streaming (go-message) path on the same mail, for comparison.
func BenchmarkParseNewTicket4KStreaming(b *testing.B) {
	benchParse(b, threading.ParseOptions{ReplyMarker: "##- Reply above this line -##", LargeThreshold: 1})
}

func benchParse(b *testing.B, opt threading.ParseOptions) {
	raw := NewGen("parse-bench", nil).NewTicket(1, KindNew4K).Raw
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m := threading.Parse(bytes.NewReader(raw), opt)
		if m.From.Addr == "" {
			b.Fatal("no From")
		}
	}
}

func BenchmarkClassifyNewTicket4K(b *testing.B) {
	job := NewGen("parse-bench", nil).NewTicket(1, KindNew4K)
	m := threading.Parse(bytes.NewReader(job.Raw), threading.ParseOptions{})
	m.EnvelopeFrom = job.From
	b.ReportAllocs()
	for b.Loop() {
		machine.Classify(m)
		if m.Class != threading.ClassHuman {
			b.Fatalf("class %s", m.Class)
		}
	}
}

// The bench's charset-flood mail (1.9 MiB of 8-bit text its declared
// charset does not decode, issue 11): B/op is what one such mail costs
// to parse; `helpdesk bench -mode charset-flood` measures the daemon.
func BenchmarkParseCharsetFloodASCII(b *testing.B) { benchFlood(b, 0) }

func BenchmarkParseCharsetFloodISO2022JP(b *testing.B) { benchFlood(b, 1) }

func benchFlood(b *testing.B, i int) {
	raw := NewGen("parse-bench", nil).CharsetFlood(i).Raw
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m := threading.Parse(bytes.NewReader(raw), threading.ParseOptions{ReplyMarker: "##- Reply above this line -##"})
		if m.From.Addr == "" || m.Text == "" {
			b.Fatal("no From or no text")
		}
	}
}
