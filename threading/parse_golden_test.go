package threading

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateParseGolden = flag.Bool("update-parse-golden", false, "rewrite testdata/parse/*.golden.json")

// parseGolden is what the golden files pin for each testdata/parse mail.
type parseGolden struct {
	Subject         string       `json:"subject"`
	From            Address      `json:"from"`
	To              []Address    `json:"to"`
	TextFromHTML    bool         `json:"text_from_html"`
	NewText         string       `json:"new_text"`
	StaffText       string       `json:"staff_text"`
	Attachments     []Attachment `json:"attachments"`
	Forwarded       *Forwarded   `json:"forwarded"`
	CharsetProblems []string     `json:"charset_problems"`
	ParseErrors     []string     `json:"parse_errors"`
}

// TestParseGolden parses the hand-made mails of testdata/parse and
// compares selected facts with <name>.golden.json (regenerate with
// -update-parse-golden, then review the diff).
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "parse", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/parse mails")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			m := parseFile(t, f, ParseOptions{ReplyMarker: "##- Reply above this line -##"})
			got := parseGolden{
				Subject: m.Subject, From: m.From, To: m.To, TextFromHTML: m.TextFromHTML,
				NewText: m.NewText, StaffText: m.StaffText, Attachments: m.Attachments,
				Forwarded: m.Forwarded, CharsetProblems: m.CharsetProblems, ParseErrors: m.ParseErrors,
			}
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			gf := filepath.Join(filepath.Dir(f), name+".golden.json")
			if *updateParseGolden {
				if err := os.WriteFile(gf, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(gf)
			if err != nil {
				t.Fatalf("%v (run with -update-parse-golden)", err)
			}
			if string(want) != string(b) {
				t.Errorf("%s differs from %s:\n%s", name, gf, b)
			}
		})
	}
}
