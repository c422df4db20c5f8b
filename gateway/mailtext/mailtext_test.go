package mailtext

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helpdesk/config"
)

func TestBuiltinsRender(t *testing.T) {
	set := Defaults().Templates
	for _, lang := range Builtin {
		for _, name := range Names {
			for _, d := range samples {
				if _, err := set.Render("support@example.com", lang, name, d); err != nil {
					t.Errorf("%s/%s: %v", lang, name, err)
				}
			}
		}
	}
	out, _ := set.Render("x@example.com", "ko", Ack, samples[0])
	if !strings.Contains(out, "접수되어 #42") || !strings.Contains(out, "- Sample article\n  https://help.example.com/sample\n") {
		t.Errorf("ko ack:\n%s", out)
	}
	out, _ = set.Render("x@example.com", "en", Ack, samples[1])
	if strings.Contains(out, "articles") || strings.Contains(out, "Hello ,") {
		t.Errorf("en ack without suggestions or name:\n%s", out)
	}
}

func TestPrivateFieldRefused(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "en"), 0o755)
	os.WriteFile(filepath.Join(dir, "en", "ack.txt"), []byte("Hello\n{{.Ticket.Tag}}\n{{range .Ticket.Notes}}{{.}}{{end}}\n"), 0o644)
	cfg := config.Default()
	cfg.Templates.Dir = dir
	cfg.Mailboxes = []config.Mailbox{{Address: "support@example.com", Language: "en"}}
	_, err := Load(cfg)
	ps, ok := err.(Problems)
	if !ok || len(ps) != 1 || ps[0].Line != 3 || !strings.Contains(ps[0].Msg, "Notes") || !strings.HasSuffix(ps[0].File, "en/ack.txt") {
		t.Fatalf("got %v", err)
	}
}

func TestDetect(t *testing.T) {
	for text, want := range map[string]string{
		"비밀번호를 잊어버렸어요":                                  "ko",
		"로그인 오류: Error 500 Internal Server Error 발생합니다": "ko",
		"I cannot log in.\n\n-- \nKim 김철수":              "",
		"Hello there":                                   "",
	} {
		if got := Detect(text); got != want {
			t.Errorf("Detect(%q) = %q, want %q", text, got, want)
		}
	}
	if Language("", "hello", "ko") != "ko" || Language("en", "안녕하세요", "ko") != "en" || Language("", "안녕하세요", "en") != "ko" {
		t.Error("Language order: profile, text, mailbox")
	}
}

func TestRuleTemplates(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "en"), 0o755)
	os.MkdirAll(filepath.Join(dir, "ko"), 0o755)
	os.WriteFile(filepath.Join(dir, "en", "outage.txt"), []byte("{{.Ticket.Tag}}: we know of the outage.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ko", "outage.txt"), []byte("{{.Ticket.Tag}}: 장애를 알고 있습니다.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ko", "only_ko.txt"), []byte("{{.Ticket.Tag}}\n"), 0o644)
	cfg := config.Default()
	cfg.Templates.Dir = dir
	cfg.Mailboxes = []config.Mailbox{{Address: "support@example.com", Language: "en"}}
	cfg.Triggers = []config.Trigger{{Name: "a", RequesterTemplate: "outage"}, {Name: "b", RequesterTemplate: "only_ko"}, {Name: "c", RequesterTemplate: "survey"}}
	_, err := Load(cfg)
	ps, _ := err.(Problems)
	if len(ps) != 2 || ps[0].Key != "trigger[1].requester_template" || ps[1].Key != "trigger[2].requester_template" {
		t.Fatalf("problems: %v", err)
	}
	cfg.Triggers = cfg.Triggers[:1]
	os.Remove(filepath.Join(dir, "ko", "only_ko.txt")) // named by no trigger now: not a template
	tx, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"en": "#7: we know of the outage.\n", "ko": "#7: 장애를 알고 있습니다.\n", "ja": "#7: we know of the outage.\n"} {
		got, err := tx.Templates.Render("support@example.com", lang, "outage", Data{Ticket: Ticket{Tag: "#7"}})
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", lang, got, err, want)
		}
	}
}

// A mailbox language without a survey template is a problem only while
// the survey is on.
func TestSurveyTemplateNeededOnlyWhenEnabled(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ja"), 0o755)
	for _, n := range []string{Ack, FollowUpAck, Merge, MergeJoined} {
		os.WriteFile(filepath.Join(dir, "ja", n+".txt"), []byte("{{.Ticket.Tag}}\n"), 0o644)
	}
	cfg := config.Default()
	cfg.Templates.Dir = dir
	cfg.Mailboxes = []config.Mailbox{{Address: "support@example.com", Language: "ja"}}
	if _, err := Load(cfg); err != nil {
		t.Fatalf("survey off: %v", err)
	}
	cfg.Survey.Enabled = true
	if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "survey.txt") {
		t.Fatalf("survey on: %v", err)
	}
}
