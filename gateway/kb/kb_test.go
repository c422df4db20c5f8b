package kb

import (
	"reflect"
	"testing"
)

func TestTokens(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"How do I reset my Password?", []string{"reset", "password"}},
		{"Passwords and invoices", []string{"password", "invoice"}},
		{"비밀번호를 잊었어요", []string{"비밀", "밀번", "번호", "호를", "잊었", "었어"}}, // 어요: an ending
		{"확인 부탁드립니다", []string{"확인", "탁드"}},
		{"VPN 접속이 안 돼요", []string{"vpn", "접속", "속이", "돼요"}},
		{"error 500 on login", []string{"error", "500", "login"}},
	} {
		if got := Tokens(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Tokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	a := Parse("en/reset.md", "---\nurl: https://help.example.com/reset\ntags: x\n---\n\n# Resetting your password\n\nGo to the login page.\n")
	if a.Title != "Resetting your password" || a.URL != "https://help.example.com/reset" {
		t.Errorf("got %+v", a)
	}
	if a := Parse("dir/plain.md", "Setext title\n============\n\ntext"); a.Title != "Setext title" || a.URL != "" {
		t.Errorf("setext: got %+v", a)
	}
	if a := Parse("dir/none.md", "just text"); a.Title != "none" {
		t.Errorf("no heading: got %+v", a)
	}
}

var arts = []Article{
	Parse("reset.md", "# Resetting your password\n\nIf you forgot your password, open the login page and choose *Forgot password*. A reset link arrives by mail within minutes."),
	Parse("invoice.md", "# Downloading invoices\n\nInvoices are under Billing > Invoices. Each invoice can be downloaded as PDF."),
	Parse("vpn.md", "# VPN connection problems\n\nIf the VPN does not connect, check that the client is up to date and your account is active."),
	Parse("ko-reset.md", "# 비밀번호 재설정 방법\n\n비밀번호를 잊으셨다면 로그인 화면에서 '비밀번호 찾기'를 누르세요. 재설정 링크가 메일로 발송됩니다."),
	Parse("ko-invoice.md", "# 세금계산서 발행 안내\n\n세금계산서는 결제 메뉴에서 발행할 수 있습니다. 발행된 세금계산서는 PDF로 내려받을 수 있습니다."),
}

func titles(hs []Hit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Article.Title)
	}
	return out
}

func TestSuggest(t *testing.T) {
	ix := Build(arts)
	for _, c := range []struct {
		text  string
		first string
		none  bool
	}{
		{text: "I forgot my password and need a reset link", first: "Resetting your password"},
		{text: "Where can I download the invoice for March?", first: "Downloading invoices"},
		{text: "비밀번호를 잊어버렸습니다. 재설정 부탁드립니다", first: "비밀번호 재설정 방법"},
		{text: "세금계산서 발행 요청드립니다", first: "세금계산서 발행 안내"},
		{text: "Our office cat knocked a plant over, any advice?", none: true},
		{text: "점심 메뉴 추천 부탁드려요", none: true},
		{text: "이번 주 금요일 회의가 있습니다. 참석 가능하신지 알려 주세요. 감사합니다.", none: true}, // polite endings alone
		{text: "비밀번호 재설정\n비밀번호를 잊었습니다.", first: "비밀번호 재설정 방법"},
		{text: "account", none: true}, // one shared word is not relevance
		{text: "이번 주 금요일 점심 메뉴를 추천해 주실 수 있나요?", none: true},
		{text: "The client disconnects every few minutes since the update.", none: true},
	} {
		hs := ix.Suggest(c.text, 3, DefaultMinScore)
		if c.none {
			if len(hs) != 0 {
				t.Errorf("%q: want no suggestion, got %q", c.text, titles(hs))
			}
			continue
		}
		if len(hs) == 0 || hs[0].Article.Title != c.first || (c.first == "비밀번호 재설정 방법" && len(hs) != 1) {
			t.Errorf("%q: want %q first, got %q", c.text, c.first, titles(hs))
		}
	}
	if hs := (*Index)(nil).Suggest("password reset", 3, 0); hs != nil {
		t.Errorf("nil index: %v", hs)
	}
}
