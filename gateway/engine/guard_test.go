package engine

import (
	"strings"
	"testing"

	"helpdesk/store/bolt"
)

// When the guard cannot read the ticket's comments it cannot tell
// whether a reply leaks a private note: the write fails (the sender
// retries; 451) instead of sending the reply unchecked.
func TestGuardFailsClosedWhenCommentsUnreadable(t *testing.T) {
	h := newHarness(t, "")
	if res, err := h.apply(Envelope{MailFrom: "ken@e-fun.example", Rcpts: []string{"support@example.com"}, Via: "smtp"},
		mailFrom("Ken <ken@e-fun.example>", "Refund", "I want my money back."), nil); err != nil || res.Ticket != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}

	// Corrupt the stored record of comment 1 of ticket 1.
	dir := h.cfg.DataDir
	h.db.Close()
	if err := bolt.DamageComment(dir, 1, 1); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e, err := New(h.cfg, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.e, h.db = e, db
	before := len(h.outbox(""))

	res, err := h.apply(Envelope{MailFrom: "victoria@certs.example", Rcpts: []string{"support@example.com"}, Via: "smtp"},
		mailFrom("Victoria <victoria@certs.example>", "Refund", "#ticket 1\n#reply\nHi Ken, the refund is on its way."), func(in *inbound) {
			in.verdict = AuthVerdict{Checked: true, DMARC: "pass"}
		})
	if err == nil || !strings.Contains(err.Error(), "comment") {
		t.Fatalf("a public reply was applied with the ticket's comments unreadable: %+v %v", res, err)
	}
	if n := len(h.outbox("")); n != before {
		t.Errorf("%d mails queued by a failed write", n-before)
	}
}

func TestLeakWords(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello,  World!\n", "hello world"},
		{"> quoted line\n>> deeper | piped", "quoted line deeper piped"},
		{"don't; e-fun.example", "don t e fun example"},
		{"「결제하지 않았으니」 환불은… 약속하지 마세요.", "결제하지 않았으니 환불은 약속하지 마세요"},
		// Decomposed Hangul (conjoining jamo, as some clients send it)
		// and full-width letters fold to the usual forms.
		{"\u1100\u1161\u11a8 ＡＢＣ１", "각 abc1"},
		{"Ünïcödé café", "ünïcödé café"},
		{"  \t\n ", ""},
	} {
		if got := strings.Join(leakWords(tc.in), " "); got != tc.want {
			t.Errorf("leakWords(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSharedRun(t *testing.T) {
	const note = "Finance confirmed the customer still owes us two invoices from March"
	for _, tc := range []struct {
		name, out string
		n         int
		want      string // "" = no match
	}{
		{"eight words", "Hi, the customer still owes us two invoices from you", 8, "the customer still owes us two invoices from"},
		{"seven words", "Hi, the customer still owes us two invoices. Bye", 8, ""},
		{"longest run reported", "CONFIRMED: the customer still owes us two invoices from March!", 8, "confirmed the customer still owes us two invoices from march"},
		{"words scattered", "the customer, us, two invoices, still owes from March finance", 8, ""},
		{"n configurable", "the customer still owes us two invoices from", 9, ""},
		{"short outgoing", "owes us", 8, ""},
		{"korean", "켄 고객님 3월 청구서 두 건을 결제하지 않았으니 환불은 약속하지 못합니다", 8, ""},
	} {
		got, ok := sharedRun(leakWords(tc.out), leakWords(note), tc.n)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: sharedRun = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
	const ko = "고객은 아직 3월 청구서 두 건을 결제하지 않았으니, 환불은 약속하지 마세요."
	if got, ok := sharedRun(leakWords("켄 고객님, 3월 청구서… 두 건을 「결제하지 않았으니」 환불은 약속하지 못합니다."), leakWords(ko), 8); !ok ||
		got != "3월 청구서 두 건을 결제하지 않았으니 환불은 약속하지" {
		t.Errorf("korean: sharedRun = %q, %v", got, ok)
	}
	// A private text shorter than n words never matches, even whole.
	if _, ok := sharedRun(leakWords("Ken owes us 500 EUR, says finance"), leakWords("Ken owes us 500 EUR, says finance"), 8); ok {
		t.Error("a 7-word note matched with n = 8")
	}
}

// The character check for scripts written without spaces: a run of
// leakCharsPerWord × leak_guard_words (24 by default) Han, Kana or
// Hangul characters in common holds; one fewer does not; what else stands
// between them (spaces, Latin, punctuation, "ー") does not count.
func TestSharedCharRun(t *testing.T) {
	const n = leakCharsPerWord * defaultLeakGuardWords
	if n != 24 {
		t.Fatalf("default character run is %d, documented as 24", n)
	}
	const ko = "고객서버의비밀번호는매주월요일아침에자동으로변경됩니다" // 27 Hangul syllables
	const ja = "お客様のサーバーのパスワードは毎週月曜日の朝に自動的に変更されます"
	rs := []rune(ko)
	for _, tc := range []struct {
		name, note, out, want string
	}{
		{"23 shared characters are sent", ko, "안내: " + string(rs[:23]) + " 끝.", ""},
		{"24 shared characters are held", ko, "안내: " + string(rs[:24]) + " 끝.", string(rs[:24])},
		{"the whole unspaced Korean note", ko, "켄고객님, " + ko + ". 감사합니다.", ko},
		{"Korean note spaced differently", ko, "고객 서버의 비밀번호는 매주 월요일 아침에 자동으로 변경됩니다", "고객 서버의 비밀번호는 매주 월요일 아침에 자동으로 변경됩니다"},
		{"the whole Japanese note", ja, "ケン様\n\n" + ja + "。\nよろしくお願いいたします。", ja},
		{"mixed text: Latin, full-width punctuation, spaces and line breaks in between", ja,
			"お客様のserver（サーバー）のパスワードは、毎週\n月曜日の朝に 自動的に変更されます!",
			"お客様のserver(サーバー)のパスワードは、毎週\n月曜日の朝に 自動的に変更されます"},
		{"half-width Katakana folds (NFKC)", ja, "お客様のｻｰﾊﾞｰのﾊﾟｽﾜｰﾄﾞは毎週月曜日の朝に自動的に変更されます", ja},
		{"Chinese", "客户的服务器密码每周一早上会自动更改请不要告诉客户这个安排谢谢", "您好！客户的服务器密码每周一早上会自动更改，请不要告诉客户。", "客户的服务器密码每周一早上会自动更改,请不要告诉客户"},
		{"Latin text has no such characters", "Finance confirmed the customer still owes us two invoices from March",
			"Finance confirmed the customer still owes us two invoices from March", ""},
		// Spaced Korean: 7 shared words (21 syllables) stay below both checks.
		{"spaced Korean, 7 words", "고객은 아직 3월 청구서 두 건을 결제하지 않았으니, 환불은 약속하지 마세요. 재무팀 확인 완료.",
			"켄 고객님, 두 건을 결제하지 않았으니! 환불은 약속하지 마세요? 라고 적혀 있네요.", ""},
	} {
		got, ok := leakChars(tc.out).sharedRun(leakChars(tc.note), n)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%s: sharedRun = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
	// The word check is unchanged for spaced Korean: 8 words hold.
	const note = "고객은 아직 3월 청구서 두 건을 결제하지 않았으니, 환불은 약속하지 마세요. 재무팀 확인 완료."
	if got, ok := sharedRun(leakWords("켄 고객님, 3월 청구서… 두 건을 「결제하지 않았으니」 환불은 약속하지 못합니다."), leakWords(note), 8); !ok ||
		got != "3월 청구서 두 건을 결제하지 않았으니 환불은 약속하지" {
		t.Errorf("spaced Korean word run: %q, %v", got, ok)
	}
}

func TestLeakChars(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"サーバー server 々 漢字かなカナ한글", "サバ々漢字かなカナ한글"},
		{"\u1100\u1161\u11a8", "각"}, // conjoining jamo compose (NFKC)
		{"ㄱㅏ ㄱ", "가"},               // compatibility jamo compose too (NFKC); a lone jamo is no syllable
		{"Hello, world", ""},
	} {
		if got := string(leakChars(tc.in).rs); got != tc.want {
			t.Errorf("leakChars(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
