package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("leak guard: a mail to the customer that shares a run of 8 words with a private note (case, line breaks, punctuation ignored; Korean words kept whole) is held: the customer gets nothing, the author a held transcript naming the words, #send releases it; a 7-word run is sent; `[commands] leak_guard_words` sets the length",
	"TestLeakGuardHoldsSharedWordRun", "TestLeakGuardKoreanAndRunLength", "TestLeakGuardRunLengthConfigurable")

// leakSetup opens ticket 1 from Ken, assigns it to Victoria and adds her
// private note; it returns the notification of Ken's mail she answers.
func leakSetup(t *testing.T, e *Env, note string) *testkit.Received {
	t.Helper()
	e.Customer(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"},
		Subject: "Refund", Body: "I want my money back for the certificate.\n"})
	n1 := e.Find(vic, "I want my money back")
	answerAs(e, "Victoria <"+vic+">", n1, "#assign me\n#note\n"+note+"\n")
	return n1
}

// inKen reports whether any mail to Ken holds sub.
func inKen(e *Env, sub string) bool { return count(e, ken, sub) > 0 }

// SPEC 6, issue 11 item 16: a public reply that shares a run of 8 words
// with a private note is held, even when the note's first words, case,
// punctuation and line breaks differ; the customer gets
// nothing of it, the author the held transcript, and #send releases it.
func TestLeakGuardHoldsSharedWordRun(t *testing.T) {
	e := Start(t, Options{})
	const note = "Finance confirmed: the customer still owes us two invoices\nfrom March, so do not promise a refund yet."
	n1 := leakSetup(t, e, note)
	kenBefore := len(e.Mailbox(ken))

	// The note minus its first 10 characters, re-cased, re-wrapped and
	// with other punctuation (quote markers: see TestLeakWords; a
	// quoted line never reaches the stored text of a staff mail).
	reply := "Hi Ken,\n\nCONFIRMED the customer still owes us\ntwo invoices from March; so do NOT promise\n\nWe will come back to you."
	answerAs(e, "Victoria <"+vic+">", n1, reply)
	if n := len(e.Mailbox(ken)); n != kenBefore || inKen(e, "two invoices") || inKen(e, "come back to you") {
		t.Fatalf("a reply sharing 8 words with a private note reached the customer (%d new mails)", n-kenBefore)
	}
	held := e.Find(vic, "Held:")
	if !strings.Contains(held.Env.Text, "HELD") || !strings.Contains(held.Env.Text, "private note") ||
		!strings.Contains(held.Env.Text, "two invoices from march") {
		t.Fatalf("held transcript does not name the shared words:\n%s", held.Env.Text)
	}
	for _, c := range e.Show(1).Comments {
		if strings.Contains(c.Text, "come back to you") && c.Kind != "held" {
			t.Errorf("the held reply is stored as %s (visibility %s)", c.Kind, c.Visibility)
		}
	}

	// #send releases it: now the customer gets it.
	answerAs(e, "Victoria <"+vic+">", held, "#send\n")
	if !inKen(e, "come back to you") {
		t.Fatal("#send did not release the held reply to the customer")
	}
}

// Korean text: words are split on white space and punctuation is
// dropped without losing Hangul. A run of 8 shared words holds the mail;
// a run of 7 (one short of the configured length) does not.
func TestLeakGuardKoreanAndRunLength(t *testing.T) {
	e := Start(t, Options{})
	const note = "고객은 아직 3월 청구서 두 건을 결제하지 않았으니, 환불은 약속하지 마세요. 재무팀 확인 완료."
	n1 := leakSetup(t, e, note)

	// 7 shared words ("두 건을 결제하지 않았으니 환불은 약속하지 마세요"): sent.
	const seven = "켄 고객님, 두 건을 결제하지 않았으니! 환불은 약속하지 마세요? 라고 적혀 있네요."
	answerAs(e, "Victoria <"+vic+">", n1, seven)
	if !inKen(e, "라고 적혀 있네요") {
		t.Fatal("a reply sharing only 7 words with the note was not sent")
	}

	// 8 shared words ("3월 청구서 두 건을 결제하지 않았으니 환불은 약속하지"),
	// other punctuation: held.
	const eight = "켄 고객님, 3월 청구서… 두 건을 「결제하지 않았으니」 환불은 약속하지 못합니다."
	answerAs(e, "Victoria <"+vic+">", n1, eight)
	if inKen(e, "못합니다") {
		t.Fatal("a Korean reply sharing 8 words with the note reached the customer")
	}
	held := e.Find(vic, "Held:")
	if !strings.Contains(held.Env.Text, "3월 청구서 두 건을 결제하지 않았으니 환불은 약속하지") {
		t.Errorf("held transcript does not name the shared Korean words:\n%s", held.Env.Text)
	}
}

// The run length is configurable: with [commands] leak_guard_words = 12
// an 8-word run goes out.
func TestLeakGuardRunLengthConfigurable(t *testing.T) {
	e := Start(t, Options{Config: Staff + "\n[commands]\nleak_guard_words = 12\n"})
	const note = "Finance confirmed: the customer still owes us two invoices from March, so do not promise a refund yet."
	n1 := leakSetup(t, e, note)
	answerAs(e, "Victoria <"+vic+">", n1, "Hi Ken, the customer still owes us two invoices from March. Regards.")
	if !inKen(e, "Regards") {
		t.Fatal("with leak_guard_words = 12 an 8-word run was held")
	}
}

var _ = claim("leak guard: text written without spaces (Japanese, Chinese, Korean typed without spaces) is compared by its Han, Kana and Hangul characters: a mail to the customer sharing a run of 3×leak_guard_words (24) such characters with a private note is held, and the held transcript names the run",
	"TestLeakGuardJapaneseUnspaced", "TestLeakGuardKoreanUnspaced")

// cjkLeak sends note as a private note, then a public #reply repeating it
// word for word between a greeting and a closing; the customer must get
// nothing of it and the author a held transcript naming the run.
func cjkLeak(t *testing.T, note, greeting, closing, run string) {
	t.Helper()
	e := Start(t, Options{})
	n1 := leakSetup(t, e, note)
	kenBefore := len(e.Mailbox(ken))
	answerAs(e, "Victoria <"+vic+">", n1, "#reply\n"+greeting+"\n\n"+note+"\n\n"+closing+"\n")
	held := e.Find(vic, "Held:")
	if n := len(e.Mailbox(ken)); n != kenBefore || inKen(e, closing) {
		t.Fatalf("a public reply repeating a private note written without spaces reached the customer (%d new mails)", n-kenBefore)
	}
	if !strings.Contains(held.Env.Text, "HELD") || !strings.Contains(held.Env.Text, "private note") ||
		!strings.Contains(held.Env.Text, run) {
		t.Fatalf("held transcript does not name the shared run %q:\n%s", run, held.Env.Text)
	}
}

// Japanese has no spaces between words: the whole note is one "word" to
// the word check, so the character check must catch it.
func TestLeakGuardJapaneseUnspaced(t *testing.T) {
	const note = "お客様のサーバーのパスワードは毎週月曜日の朝に自動的に変更されます"
	cjkLeak(t, note, "ケン様", "よろしくお願いいたします。", note)
}

// Korean typed without spaces is one "word" too.
func TestLeakGuardKoreanUnspaced(t *testing.T) {
	cjkLeak(t, "고객서버의비밀번호는매주월요일아침에자동으로변경됩니다",
		"켄고객님,", "감사합니다.", "고객서버의비밀번호는매주월요일아침에자동으로변경됩니다")
}
