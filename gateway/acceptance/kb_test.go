package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// Issue 15 items 4 and 5: knowledge-base answers in the acknowledgement,
// and customer mail in the customer's language.

var (
	_ = claim("[knowledge_base] dir: a Korean ticket gets a Korean acknowledgement suggesting the relevant Korean articles (title and url), recorded on the ticket (`show --json` kb_suggestions, language)",
		"TestKoreanTicketGetsKoreanAckWithArticles")
	_ = claim("an English ticket gets an English acknowledgement suggesting the relevant articles (at most three, best first); an unrelated ticket, English or Korean, gets none",
		"TestEnglishAckSuggestsArticlesUnrelatedNone")
	_ = claim("[templates] dir overrides the built-in customer texts: <mailbox>/<lang>/ack.txt before <lang>/ack.txt before the built-in one; [[mailbox]] language is the language when the mail's text does not tell",
		"TestTemplateOverrides")
	_ = claim("`helpdesk check-config` refuses a customer template that reaches a private field (file, line and fix); SIGHUP with it is refused and the old texts stay",
		"TestTemplatePrivateFieldRefused")
	_ = claim("the knowledge base is read at start and on SIGHUP: a new article is suggested after the reload",
		"TestKnowledgeBaseReloadsOnSIGHUP")
	_ = claim("a merge notice to a Korean ticket's customer is written in Korean",
		"TestMergeNoticeInTicketLanguage")
)

// shippedKB is the example knowledge base under testdata/.
func shippedKB(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../testdata/kb")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// kbTicket is the part of `show --json` these tests read.
type kbTicket struct {
	Language    string `json:"language"`
	Suggestions []struct {
		Article string  `json:"article"`
		Title   string  `json:"title"`
		URL     string  `json:"url"`
		Score   float64 `json:"score"`
	} `json:"kb_suggestions"`
}

func showKB(e *Env, n int) kbTicket {
	e.T.Helper()
	var tk kbTicket
	e.JSON(&tk, "show", fmt.Sprint(n))
	return tk
}

func kbConfig(kb, templates string) string {
	s := Staff + "\n[knowledge_base]\ndir = \"" + kb + "\"\n"
	if templates != "" {
		s += "\n[templates]\ndir = \"" + templates + "\"\n"
	}
	return s
}

func TestKoreanTicketGetsKoreanAckWithArticles(t *testing.T) {
	e := Start(t, Options{Config: kbConfig(shippedKB(t), "")})
	e.Customer(testkit.Mail{From: "김민수 <minsu@e-fun.example>", To: []string{"support@example.com"},
		Subject: "비밀번호를 잊어버렸어요", Body: "로그인하려는데 비밀번호가 기억나지 않습니다. 재설정 링크를 받을 수 있을까요?\n"})
	ack := Text(e.Find("minsu@e-fun.example", "[#1]"))
	for _, want := range []string{"안녕하세요 김민수님", "[#1] 번호로 등록되었습니다", "아래 도움말",
		"- 비밀번호 재설정 방법\n  https://help.example.com/ko/articles/password-reset\n"} {
		if !strings.Contains(ack, want) {
			t.Errorf("the Korean acknowledgement lacks %q:\n%s", want, ack)
		}
	}
	for _, not := range []string{"we received", "세금계산서", "Resetting your password", "Downloading invoices"} {
		if strings.Contains(ack, not) {
			t.Errorf("the Korean acknowledgement contains %q:\n%s", not, ack)
		}
	}
	tk := showKB(e, 1)
	if tk.Language != "ko" || len(tk.Suggestions) != 1 || tk.Suggestions[0].Title != "비밀번호 재설정 방법" ||
		tk.Suggestions[0].Article != "ko-password.md" || tk.Suggestions[0].URL != "https://help.example.com/ko/articles/password-reset" || tk.Suggestions[0].Score <= 0 {
		t.Errorf("show --json: %+v", tk)
	}
	// Staff notifications keep the installation's one language.
	if n := Text(e.Find("victoria@certs.example", "비밀번호를 잊어버렸어요")); strings.Contains(n, "안녕하세요") || strings.Contains(n, "도움말") {
		t.Errorf("the staff notification carries the customer's texts:\n%s", n)
	}
}

func TestEnglishAckSuggestsArticlesUnrelatedNone(t *testing.T) {
	e := Start(t, Options{Config: kbConfig(shippedKB(t), "")})
	e.Customer(testkit.Mail{From: "Ken Adams <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Forgot my password", Body: "Hi, I forgot the password of my account and the reset link never arrived. Can you help?\n"})
	ack := Text(e.Find("ken@e-fun.example", "[#1]"))
	for _, want := range []string{"Hello Ken Adams,", "opened ticket [#1]", "These articles may already answer your question:",
		"- Resetting your password\n  https://help.example.com/articles/password-reset\n"} {
		if !strings.Contains(ack, want) {
			t.Errorf("the English acknowledgement lacks %q:\n%s", want, ack)
		}
	}
	for _, not := range []string{"비밀번호", "Downloading invoices", "안녕하세요"} {
		if strings.Contains(ack, not) {
			t.Errorf("the English acknowledgement contains %q:\n%s", not, ack)
		}
	}
	if tk := showKB(e, 1); tk.Language != "en" || len(tk.Suggestions) != 1 || tk.Suggestions[0].Article != "password-reset.md" {
		t.Errorf("show --json: %+v", tk)
	}

	// Unrelated tickets, in either language: an acknowledgement without
	// suggestions, and none recorded.
	e.Customer(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Office party", Body: "Are we still meeting on Friday for the holiday party at the office?\n"})
	e.Customer(testkit.Mail{From: "이지은 <jieun@e-fun.example>", To: []string{"support@example.com"},
		Subject: "점심 메뉴", Body: "이번 주 금요일 점심 메뉴를 추천해 주실 수 있나요?\n"})
	for i, who := range []string{"ann@e-fun.example", "jieun@e-fun.example"} {
		n := i + 2
		ack := Text(e.Find(who, fmt.Sprintf("[#%d]", n)))
		if strings.Contains(ack, "articles") || strings.Contains(ack, "도움말") || strings.Contains(ack, "https://") {
			t.Errorf("an unrelated ticket got suggestions:\n%s", ack)
		}
		if tk := showKB(e, n); len(tk.Suggestions) != 0 {
			t.Errorf("ticket %d recorded suggestions: %+v", n, tk.Suggestions)
		}
	}
	if !strings.Contains(Text(e.Find("jieun@e-fun.example", "[#3]")), "안녕하세요 이지은님") {
		t.Errorf("the unrelated Korean ticket's acknowledgement is not Korean")
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTemplateOverrides(t *testing.T) {
	tpl := t.TempDir()
	writeFile(t, filepath.Join(tpl, "ko", "ack.txt"), "{{.Requester.Name}}님, 문의 {{.Ticket.Tag}} 접수 (재정의)\n{{range .Suggestions}}* {{.Title}}\n{{end}}")
	writeFile(t, filepath.Join(tpl, "billing@example.com", "en", "ack.txt"), "Billing got {{.Ticket.Tag}}: {{.Ticket.Subject}} ({{.Mailbox.Name}})\n")
	cfg := kbConfig(shippedKB(t), tpl) + `
[[mailbox]]
address = "billing@example.com"
name = "Certs Billing"
group = "support"

[[mailbox]]
address = "support.kr@example.com"
name = "Certs Korea"
group = "support"
language = "ko"
`
	e := Start(t, Options{Config: cfg})
	e.Customer(testkit.Mail{From: "김민수 <minsu@e-fun.example>", To: []string{"support@example.com"},
		Subject: "비밀번호 재설정", Body: "비밀번호를 잊었습니다.\n"})
	if ack := Text(e.Find("minsu@e-fun.example", "[#1]")); ack != "김민수님, 문의 [#1] 접수 (재정의)\n* 비밀번호 재설정 방법\n" {
		t.Errorf("ko/ack.txt was not used:\n%q", ack)
	}
	// The mailbox's own folder wins for that mailbox (English text).
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"billing@example.com"}, Subject: "Quote please", Body: "Please send a quote.\n"})
	if ack := Text(e.Find("ken@e-fun.example", "[#2]")); ack != "Billing got [#2]: Quote please (Certs Billing)\n" {
		t.Errorf("billing@example.com/en/ack.txt was not used:\n%q", ack)
	}
	// English text to the support mailbox: the built-in English one.
	e.Customer(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"}, Subject: "Quote please", Body: "Please send a quote.\n"})
	if ack := Text(e.Find("ann@e-fun.example", "[#3]")); !strings.HasPrefix(ack, "Hello Ann,\n\nwe received your request") {
		t.Errorf("the built-in English acknowledgement was not used:\n%s", ack)
	}
	// Text that does not tell (digits only): the mailbox's language.
	e.Customer(testkit.Mail{From: "Bo <bo@e-fun.example>", To: []string{"support.kr@example.com"}, Subject: "1234", Body: "5678\n"})
	if ack := Text(e.Find("bo@e-fun.example", "[#4]")); ack != "Bo님, 문의 [#4] 접수 (재정의)\n" {
		t.Errorf("the mailbox's language was not used:\n%q", ack)
	}
	if tk := showKB(e, 4); tk.Language != "ko" {
		t.Errorf("ticket 4's language is %q, want ko", tk.Language)
	}
}

func TestTemplatePrivateFieldRefused(t *testing.T) {
	tpl := t.TempDir()
	ack := filepath.Join(tpl, "en", "ack.txt")
	writeFile(t, ack, "Hello {{.Requester.Name}},\nticket {{.Ticket.Tag}}\n")
	e := Start(t, Options{Config: kbConfig(shippedKB(t), tpl)})
	if out, _, code := e.CLI("check-config"); code != 0 {
		t.Fatalf("check-config refuses a good template (exit %d):\n%s", code, out)
	}

	// Line 3 reaches the ticket's private notes and assignee.
	writeFile(t, ack, "Hello {{.Requester.Name}},\nticket {{.Ticket.Tag}}\nassigned to {{.Ticket.Assignee}}\n")
	out, _, code := e.CLI("check-config")
	if code != 1 || !strings.Contains(out, "templates.dir: "+ack+":3: .Ticket.Assignee is not a field customer mail may show") ||
		!strings.Contains(out, "(fix: use only the public fields: .Ticket.Number") {
		t.Errorf("check-config on a template with a private field: exit %d\n%s", code, out)
	}
	writeFile(t, ack, "{{range .Notes}}{{.Text}}{{end}}\n")
	if out, _, code := e.CLI("check-config"); code != 1 || !strings.Contains(out, ack+":1: .Notes is not a field") {
		t.Errorf("check-config on .Notes: exit %d\n%s", code, out)
	}
	writeFile(t, ack, "Hello {{.Requester.Name\n")
	if out, _, code := e.CLI("check-config"); code != 1 || !strings.Contains(out, ack+":2: does not parse: unclosed action") {
		t.Errorf("check-config on a syntax error: exit %d\n%s", code, out)
	}

	// SIGHUP with the bad template is refused; the old text stays.
	writeFile(t, ack, "Hello {{.Requester.Name}},\nassigned to {{.Ticket.Assignee}}\n")
	e.Proc.Signal(syscall.SIGHUP)
	e.Eventually(10*time.Second, func() bool { return strings.Contains(e.Logs(), "reload refused") }, func() string {
		return "no refused reload logged:\n" + e.Logs()
	})
	e.Customer(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"}, Subject: "Hi", Body: "A question.\n"})
	if got := Text(e.Find("ann@e-fun.example", "[#1]")); got != "Hello Ann,\nticket [#1]\n" {
		t.Errorf("after a refused reload the acknowledgement is %q", got)
	}
}

func TestKnowledgeBaseReloadsOnSIGHUP(t *testing.T) {
	kb := t.TempDir()
	for _, f := range []string{"password-reset.md", "ko-password.md"} {
		b, err := os.ReadFile(filepath.Join(shippedKB(t), f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(kb, f), string(b))
	}
	e := Start(t, Options{Config: kbConfig(kb, "")})
	vpn := testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "VPN keeps disconnecting", Body: "The VPN client disconnects every few minutes since the update.\n"}
	e.Customer(vpn)
	if tk := showKB(e, 1); len(tk.Suggestions) != 0 {
		t.Fatalf("suggestions before the article exists: %+v", tk.Suggestions)
	}

	writeFile(t, filepath.Join(kb, "network", "vpn.md"), "---\nurl: https://help.example.com/vpn\n---\n# VPN disconnects\n\nIf the VPN client disconnects, update the client and check the network.\n")
	reloads := strings.Count(e.Logs(), "configuration reloaded")
	e.Proc.Signal(syscall.SIGHUP)
	e.Eventually(10*time.Second, func() bool { return strings.Count(e.Logs(), "configuration reloaded") > reloads }, func() string {
		return "no reload logged:\n" + e.Logs()
	})
	vpn.Subject, vpn.MessageID = "VPN disconnects again", ""
	e.Customer(vpn)
	ack := Text(e.Find("ken@e-fun.example", "[#2]"))
	if !strings.Contains(ack, "- VPN disconnects\n  https://help.example.com/vpn\n") {
		t.Errorf("the new article is not suggested after SIGHUP:\n%s", ack)
	}
	if tk := showKB(e, 2); len(tk.Suggestions) != 1 || tk.Suggestions[0].Article != "network/vpn.md" {
		t.Errorf("show --json: %+v", tk)
	}
}

func TestMergeNoticeInTicketLanguage(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "김민수 <minsu@e-fun.example>", To: []string{"support@example.com"}, Subject: "로그인 오류", Body: "로그인이 되지 않습니다.\n"})
	e.Customer(testkit.Mail{From: "김민수 <minsu@e-fun.example>", To: []string{"support@example.com"}, Subject: "로그인 문제 다시", Body: "여전히 로그인이 되지 않습니다.\n"})
	n := e.Find("victoria@certs.example", "로그인 문제 다시")
	replyTo(e, n, "#merge 1\n")
	got := Text(e.Find("minsu@e-fun.example", "병합되었습니다"))
	if !strings.Contains(got, "문의 [#2] \"로그인 문제 다시\" 건이 [#1] \"로그인 오류\" 건으로 병합되었습니다") {
		t.Errorf("the merge notice is not the Korean text:\n%s", got)
	}
}
