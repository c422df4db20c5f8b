package acceptance

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"text/template"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/gateway/mailtext"
)

// Issue 13: the built-in acknowledgement is rendered without
// text/template's reflection in the store's writer; what a customer
// receives stays exactly what the shipped template says.

var _ = claim("a new ticket's acknowledgement is exactly the shipped template's text, in the customer's language, with and without a display name and knowledge-base articles",
	"TestAckIsTheShippedTemplateExactly")

func TestAckIsTheShippedTemplateExactly(t *testing.T) {
	e := Start(t, Options{Config: kbConfig(shippedKB(t), "")})
	// What text/template itself makes of the shipped file: the oracle.
	want := func(lang string, d mailtext.Data) string {
		t.Helper()
		src, err := os.ReadFile("../mailtext/builtin/" + lang + "/ack.txt")
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := template.Must(template.New("ack").Option("missingkey=error").Parse(string(src))).Execute(&b, d); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	mb := mailtext.Mailbox{Name: "Certs Support"}
	cases := []struct {
		from, addr, subject, body, lang string
		d                               mailtext.Data
	}{
		{"Ken Adams <ken@e-fun.example>", "ken@e-fun.example", "Forgot my password",
			"Hi, I forgot the password of my account and the reset link never arrived. Can you help?\n", "en",
			mailtext.Data{Requester: mailtext.Person{Name: "Ken Adams"}, Suggestions: []mailtext.Article{
				{Title: "Resetting your password", URL: "https://help.example.com/articles/password-reset"}}}},
		{"noname@e-fun.example", "noname@e-fun.example", `The "blue" {{widget}} <b>broke</b>`,
			"It makes a noise since Tuesday.\n", "en", mailtext.Data{}},
		{"김민수 <minsu@e-fun.example>", "minsu@e-fun.example", "비밀번호를 잊어버렸어요",
			"로그인하려는데 비밀번호가 기억나지 않습니다. 재설정 링크를 받을 수 있을까요?\n", "ko",
			mailtext.Data{Requester: mailtext.Person{Name: "김민수"}, Suggestions: []mailtext.Article{
				{Title: "비밀번호 재설정 방법", URL: "https://help.example.com/ko/articles/password-reset"}}}},
	}
	for _, c := range cases {
		e.Customer(testkit.Mail{From: c.from, To: []string{"support@example.com"}, Subject: c.subject, Body: c.body})
	}
	e.Settle()
	for i, c := range cases {
		num := uint64(i + 1)
		tag := "[#" + strconv.FormatUint(num, 10) + "]"
		box := e.Mailbox(c.addr)
		if len(box) != 1 {
			t.Fatalf("%s got %d mails, want the acknowledgement alone", c.addr, len(box))
		}
		d := c.d
		d.Ticket = mailtext.Ticket{Number: num, Tag: tag, Subject: c.subject, Status: "open"}
		d.Mailbox = mb
		if got, w := Text(box[0]), want(c.lang, d); got != w {
			t.Errorf("the acknowledgement of %s:\n%q\nthe shipped template says:\n%q", tag, got, w)
		}
	}
}
