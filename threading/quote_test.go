package threading

import (
	"runtime"
	"strings"
	"testing"
)

func TestStripQuoted(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text stays", "Hello\n\nHow are you?\n", "Hello\n\nHow are you?"},
		{"crlf normalized", "Hi\r\n\r\nthere\r\n", "Hi\n\nthere"},
		{"lone cr normalized", "Hi\rthere", "Hi\nthere"},
		{"gmail", "Thanks!\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <xxx@gmail.com> wrote:\n\n> Hi\n> there\n",
			"Thanks!"},
		{"gmail wrapped over two lines",
			"Sure.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Megan One <\nxxx@gmail.com> wrote:\n\n> Hi\n",
			"Sure."},
		{"gmail wrapped, name on second line",
			"Sure.\n\nOn Mon, Apr 2, 2012 at 6:26 PM,\nMegan One <xxx@gmail.com> wrote:\n> Hi\n",
			"Sure."},
		{"apple mail", "Hello\n\nOn Apr 3, 2012, at 4:19 PM, bob wrote:\n\n> Hi\n", "Hello"},
		{"iphone with signature", "Hello\n\nSent from my iPhone\n\nOn Apr 3, 2012, at 4:19 PM, bob <bob@example.com> wrote:\n\n> Hi\n",
			"Hello\n\nSent from my iPhone"},
		{"apple quoted attribution", "Hello\n> On 22 Aug 2015, at 19:21, Adam <a@example.com> wrote:\n>\n> Hi there!\n", "Hello"},
		{"thunderbird bottom post", "On 04/02/2012 06:26 PM, Megan One wrote:\n> Hi\nHello\n", "Hello"},
		{"outlook original message",
			"Hello\n\n-----Original Message-----\nFrom: bob <bob@example.com>\nSent: Mon, Apr 2, 2012 5:49 pm\nTo: xxx\nSubject: Test\n\nHi\n",
			"Hello"},
		{"outlook header block",
			"Hello\n\nFrom: xxx@xxx.mailgun.org [mailto:xxx@xxx.mailgun.org]\nSent: March-09-12 4:22 PM\nTo: Dan Le\nSubject: The manager has commented\n\nHi dan,\nold text\n",
			"Hello"},
		{"outlook underscores",
			"Answer\n\n________________________________\nFrom: Support <support@example.com>\nSent: Friday, 20 November 2026 15:00\nTo: Ken <ken@example.com>\nSubject: RE: [#12] cert\n\nold\n",
			"Answer"},
		{"outlook korean",
			"안녕하세요.\n\n김현진 드림\n\n-----Original Message-----\n보낸 사람: Certs 고객지원 <support@certs.example>\n보낸 날짜: 2026년 11월 20일 금요일 오후 3:00\n받는 사람: 김현진 <hj@efun.example>\n제목: [#1042] 인증서 갱신 요청\n\n고객님, 확인 부탁드립니다.\n",
			"안녕하세요.\n\n김현진 드림"},
		{"outlook korean without marker",
			"네 알겠습니다.\n\n보낸 사람: Certs 고객지원 <support@certs.example>\n보낸 날짜: 2026년 11월 20일 금요일 오후 3:00\n받는 사람: 김현진 <hj@efun.example>\n참조: \n제목: [#1042] 인증서\n\n이전 내용\n",
			"네 알겠습니다."},
		{"outlook german",
			"Danke!\n\nVon: Support <support@example.com>\nGesendet: Freitag, 20. November 2026 15:00\nAn: Ken <ken@example.com>\nBetreff: AW: Zertifikat\n\nalt\n",
			"Danke!"},
		{"outlook german marker",
			"Danke\n\n-----Ursprüngliche Nachricht-----\nVon: a@example.com\nGesendet: Montag\nAn: b@example.com\nBetreff: x\n\nalt",
			"Danke"},
		{"outlook french",
			"Merci\n\nDe : Support <support@example.com>\nEnvoyé : vendredi 20 novembre 2026 15:00\nÀ : Ken <ken@example.com>\nObjet : RE: certificat\n\nancien\n",
			"Merci"},
		{"gmail korean wrapped",
			"네, 주소는 서울시 강남구 입니다.\n감사합니다.\n\n2026년 11월 21일 (토) 오전 10:12,\n Certs 고객지원 <support@certs.example>님이 작성:\n> 배송 주소를 알려 주시겠어요?\n>\n> 감사합니다.\n",
			"네, 주소는 서울시 강남구 입니다.\n감사합니다."},
		{"korean ios", "확인했습니다\n\n2023. 1. 5. 오후 3:14, 홍길동 <hong@example.com> 작성:\n\n> 질문\n", "확인했습니다"},
		{"android russian wrapped",
			"Hello\n02.04.2012 14:20 пользователь \"bob@xxx.mailgun.org\" <\nbob@xxx.mailgun.org> написал:\n\n> Hi\n",
			"Hello"},
		{"german gmail", "Gern.\n\nAm Mo., 2. Apr. 2012 um 18:26 Uhr schrieb Megan <m@example.com>:\n> Hallo\n", "Gern."},
		{"french gmail", "Oui.\n\nLe lun. 2 avr. 2012 à 18:26, Megan <m@example.com> a écrit :\n> Salut\n", "Oui."},
		{"japanese gmail", "了解です\n\n2012年4月2日 18:26 Megan One <xxx@gmail.com>:\n> Hi\n", "了解です"},
		{"yahoo original message",
			"Hello\n\n\n----- Original Message -----\nFrom: \"bob@example.com\" <bob@example.com>\nTo: xxx@gmail.com\nCc: \nSent: Monday, April 2, 2012 5:44 PM\nSubject: Test\n\nHi\n",
			"Hello"},
		{"yahoo dashed attribution",
			"Hello\n\n--- On Mon, 4/2/12, bob <bob@example.com> wrote:\n\nFrom: bob <bob@example.com>\nSubject: Test\nTo: xxx@yahoo.com\nDate: Monday, April 2, 2012, 5:44 PM\n\nHi\n",
			"Hello"},
		{"hotmail quoted header", "\nHello\n\n> Subject: Test\n> From: bob@example.com\n> To: xxx@hotmail.com\n> Date: Mon, 2 Apr 2012\n> \n> Hi\n \t\t \n",
			"Hello"},
		{"zimbra", "Hello \n\n----- Original Message -----\nFrom: bob@example.com \nTo: xxx@gmail.com \nSent: Monday, April 2, 2012 5:44:22 PM \nSubject: Test \n\nHi \n",
			"Hello"},
		{"sparrow signature kept",
			"Hello \n\n-- \nxxx\nSent with Sparrow (http://www.sparrowmailapp.com/?sig)\n\n\nOn Tuesday, April 3, 2012 at 4:55 PM, xxx wrote:\n\n> Hello\n> \n> > Hi\n",
			"Hello \n\n-- \nxxx\nSent with Sparrow (http://www.sparrowmailapp.com/?sig)"},
		{"inline answers kept", "> question\nmy answer\n> question2\nanswer2", "my answer\nanswer2"},
		{"inline answers with attribution",
			"On Mon, Apr 2, 2012 at 6:26 PM, Megan <m@example.com> wrote:\n> Can you do A?\n\nYes.\n\n> And B?\n\nNo, sorry.\n\n-- \nKen\n",
			"Yes.\n\nNo, sorry.\n\n-- \nKen"},
		{"signature kept", "Thanks\n\n--\nKen Kim\nIT Manager, e-Fun\n+82 2 555 0000\n", "Thanks\n\n--\nKen Kim\nIT Manager, e-Fun\n+82 2 555 0000"},
		{"colon line before quote is not an attribution",
			"Here is what I think about point 2:\n> the old point 2\nI disagree.", "Here is what I think about point 2:\nI disagree."},
		{"sentence above short attribution kept",
			"I checked it 2 times,\nKen wrote:\n> old\n", "I checked it 2 times,"},
		{"sentence with a digit above attribution kept",
			"2 things first,\nKen <ken@example.com> wrote:\n> old\n", "2 things first,"},
		{"forwarded header block kept",
			"FYI\n\n---------- Forwarded message ---------\nFrom: Ken <ken@example.com>\nDate: Mon, Apr 2, 2012 at 6:26 PM\nSubject: Broken\nTo: me@example.com\n\nIt is broken.\n",
			"FYI\n\n---------- Forwarded message ---------\nFrom: Ken <ken@example.com>\nDate: Mon, Apr 2, 2012 at 6:26 PM\nSubject: Broken\nTo: me@example.com\n\nIt is broken."},
		{"from line in prose is not a header block", "From: the office\nI will call you.\n", "From: the office\nI will call you."},
		{"listed fields without a date are not history", "Please fix the mail:\nFrom: me@example.com\nTo: you@example.com\nSubject: test\n\nIt bounced.",
			"Please fix the mail:\nFrom: me@example.com\nTo: you@example.com\nSubject: test\n\nIt bounced."},
		{"user's intro to a pasted quote is kept", "My colleague said:\n> the server is down\nIs that true?", "My colleague said:\nIs that true?"},
		{"only quoted", "> Hi\n", ""},
		{"empty", "", ""},
		{"command lines kept", "#status pending\n#assign me\n\nOn Mon, X <x@example.com> wrote:\n> ##- Reply above this line -##\n",
			"#status pending\n#assign me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripQuoted(tt.in); got != tt.want {
				t.Errorf("StripQuoted(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestStripQuotedNeverDropsAuthorLines: whatever StripQuoted returns is
// made of lines of the input, in order, and every unquoted line that is
// not part of a recognised history construct is kept.
func TestStripQuotedNeverDropsAuthorLines(t *testing.T) {
	in := "Line one\n> q1\nLine two: with a colon\n>> q2\n> q3\nLine three 12:30 at 2024\n\nbye"
	got := StripQuoted(in)
	for _, l := range []string{"Line one", "Line two: with a colon", "Line three 12:30 at 2024", "bye"} {
		if !strings.Contains(got, l) {
			t.Errorf("lost %q in %q", l, got)
		}
	}
	if strings.Contains(got, "q1") || strings.Contains(got, "q2") || strings.Contains(got, "q3") {
		t.Errorf("kept a quoted line: %q", got)
	}
}

func TestCutAtMarker(t *testing.T) {
	const marker = "##- Reply above this line -##"
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Done.\n\n##- Reply above this line -##\nTicket #12 was updated\n", "Done."},
		{"quoted by client", "Done.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Helpdesk <support@example.com> wrote:\n> ##- Reply above this line -##\n> Ticket #12\n",
			"Done."},
		{"inside a quoted block", "Done.\n\n> Some earlier line\n> ##- Reply above this line -##\n> Ticket\n", "Done."},
		{"nested quote", "Done.\n>> ##- Reply above this line -##\n", "Done."},
		{"unknown attribution language", "Fait.\n\nLe 2 avr. 2012, Certs a dit :\n> ##- Reply above this line -##\n", "Fait."},
		{"unknown attribution, unquoted", "Fait.\n\nLe 2 avr. 2012, Certs a dit :\n\n##- Reply above this line -##\n", "Fait."},
		{"author's colon line kept", "Here is my list:\n\n##- Reply above this line -##\n", "Here is my list:"},
		{"outlook header above marker",
			"Done.\n\n________________________________\nFrom: Helpdesk <support@example.com>\nSent: Monday\nTo: Victoria\nSubject: [#12] x\n\n##- Reply above this line -##\nTicket\n",
			"Done."},
		{"inline answer below marker is cut", "Top\n> ##- Reply above this line -##\n> q\nanswer below\n", "Top"},
		{"no marker", "Just text\n", "Just text"},
		{"crlf", "Yes\r\n##- Reply above this line -##\r\nrest", "Yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CutAtMarker(tt.in, marker); got != tt.want {
				t.Errorf("CutAtMarker(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
	if got := CutAtMarker("a\n-- cut --\nb", "-- cut --"); got != "a" {
		t.Errorf("configured marker: %q", got)
	}
	if got := CutAtMarker(" a \n", ""); got != "a" {
		t.Errorf("empty marker: %q", got)
	}
}

// FuzzStripQuoted: StripQuoted and CutAtMarker only ever remove lines;
// what they return is the input's lines, in order.
func FuzzStripQuoted(f *testing.F) {
	for _, s := range []string{
		"Hello\n\nOn Mon, X <x@example.com> wrote:\n> Hi\n",
		"> q\nanswer\n> q2\nanswer2",
		"a\n-----Original Message-----\nFrom: x\nSent: y\nTo: z\nSubject: w\n\nold",
		"x\r\n##- Reply above this line -##\r\n> y",
		"2026년 11월 21일 (토) 오전 10:12,\n Certs <s@c.example>님이 작성:\n> 질문",
	} {
		f.Add(s)
	}
	subsequence := func(t *testing.T, in, out string) {
		if out == "" {
			return
		}
		inLines := strings.Split(normalizeNewlines(in), "\n")
		j := 0
		for _, l := range strings.Split(out, "\n") {
			for j < len(inLines) && strings.TrimSpace(inLines[j]) != strings.TrimSpace(l) {
				j++
			}
			if j == len(inLines) {
				t.Fatalf("line %q of %q is not from the input %q", l, out, in)
			}
			j++
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		stripped, cut := StripQuoted(in), CutAtMarker(in, "##- Reply above this line -##")
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; len(in) <= 1<<20 && grew > 64<<20 {
			t.Fatalf("%d bytes of input allocated %d MiB", len(in), grew>>20)
		}
		subsequence(t, in, stripped)
		subsequence(t, in, cut)
	})
}
