package threading

import (
	"strings"
	"testing"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo"},
		{"br and div", "Hello<br>world<div>next</div><div>last</div>", "Hello\nworld\nnext\nlast"},
		{"whitespace collapsed", "<p>  a\n   b\t c  </p>", "a b c"},
		{"entities", "<p>Fish &amp; chips &lt;3 caf&eacute;&nbsp;ok</p>", "Fish & chips <3 café ok"},
		{"link", `<p>See <a href="https://example.com/kb/1">the article</a>.</p>`, "See the article (https://example.com/kb/1)."},
		{"link equal to text", `<a href="https://example.com/">https://example.com</a>`, "https://example.com"},
		{"mailto link", `<a href="mailto:ken@example.com">Ken</a> or <a href="mailto:a@example.com">a@example.com</a>`, "Ken (ken@example.com) or a@example.com"},
		{"anchor and javascript links dropped", `<a href="#top">Top</a> <a href="javascript:x()">Run</a>`, "Top Run"},
		{"image link uses alt", `<a href="https://x.example/p"><img alt="Profile" src="p.png"></a>`, "Profile (https://x.example/p)"},
		{"unordered list", "<ul><li>one</li><li>two</li></ul>", "- one\n- two"},
		{"ordered list", "<ol><li>one</li><li>two</li></ol>", "1. one\n2. two"},
		{"nested list", "<ul><li>a<ul><li>b</li></ul></li></ul>", "- a\n  - b"},
		{"script and style dropped", "<html><head><title>T</title><style>p{color:red}</style></head><body><script>alert(1)</script><p>Body</p></body></html>", "Body"},
		{"pre kept", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"table cells", "<table><tr><td>Name</td><td>Ken</td></tr><tr><td>Tel</td><td>1</td></tr></table>", "Name Ken\nTel 1"},
		{"blockquote as quote", "<p>Reply</p><blockquote>old<br>text</blockquote>", "Reply\n\n> old\n> text"},
		{"headings", "<h1>Title</h1>text", "Title\n\ntext"},
		{"outlook msonormal", `<p class=MsoNormal>Line one</p><p class=MsoNormal>Line two</p>`, "Line one\nLine two"},
		{"broken html", "<div><p>unclosed <b>bold<div>x", "unclosed bold\nx"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HTMLToText(tt.in); got != tt.want {
				t.Errorf("HTMLToText(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestStripQuotedHTML(t *testing.T) {
	tests := []struct {
		name, in, want string
		strong         bool
	}{
		{"gmail", `<div dir="ltr">Thanks, done.</div><br><div class="gmail_quote"><div class="gmail_attr">On Mon, Apr 2, 2012 at 6:26 PM Megan &lt;m@example.com&gt; wrote:<br></div><blockquote class="gmail_quote">Hi<br>there</blockquote></div>`,
			"Thanks, done.", true},
		{"apple blockquote cite with attribution outside",
			`<div>Yes</div><div><br><blockquote type="cite"><div>On Apr 3, 2012, at 4:19 PM, bob wrote:</div><div>old</div></blockquote></div>`,
			"Yes", true},
		{"attribution before blockquote",
			`<p>Yes</p><p>On Tuesday, April 3, 2012 at 4:55 PM, xxx wrote:</p><blockquote type="cite"><div>Hello</div></blockquote>`,
			"Yes", true},
		{"thunderbird moz-cite-prefix",
			`<p>OK</p><div class="moz-cite-prefix">On 02/04/2012 18:26, Megan wrote:<br></div><blockquote type="cite">Hi</blockquote>`,
			"OK", true},
		{"outlook divRplyFwdMsg", `<div>Answer here</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Support &lt;s@example.com&gt;<br><b>Sent:</b> Monday<br><b>To:</b> Ken<br><b>Subject:</b> RE: x</div><div>old body</div>`,
			"Answer here", true},
		{"outlook appendonsend", `<div>Answer</div><div id="appendonsend"></div><hr><div>From: Support<br>Sent: Monday</div><p>old</p>`,
			"Answer", true},
		{"outlook x_ prefixed ids", `<div>Answer</div><div id="x_divRplyFwdMsg">From: a</div><div>old</div>`, "Answer", true},
		{"yahoo", `<div>Sure</div><div class="yahoo_quoted"><div>On Monday, X wrote:</div><div>old</div></div>`, "Sure", true},
		{"outlook desktop header in text", `<p class=MsoNormal>Done<o:p></o:p></p><div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class=MsoNormal><b>From:</b> Support &lt;s@example.com&gt;<br><b>Sent:</b> Friday, 20 November 2026 15:00<br><b>To:</b> Ken<br><b>Subject:</b> RE: cert</p></div><p class=MsoNormal>old text</p>`,
			"Done", false},
		{"inline answers in html", `<blockquote type="cite">Question one?</blockquote><div>Answer one.</div><blockquote type="cite">Question two?</blockquote><div>Answer two.</div>`,
			"Answer one.\nAnswer two.", true},
		{"gmail indent is not a quote", `<div>Steps:</div><blockquote style="margin:0 0 0 40px;border:none;padding:0px"><div>restart the server</div></blockquote>`,
			"Steps:\nrestart the server", false},
		{"signature kept", `<div>Done.</div><div>-- <br>Victoria<br>Certs Support</div><div class="gmail_quote">old</div>`,
			"Done.\n--\nVictoria\nCerts Support", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, strong := stripQuotedHTML(tt.in, 1<<20)
			if got != tt.want || strong != tt.strong {
				t.Errorf("stripQuotedHTML\n got: %q strong=%v\nwant: %q strong=%v", got, strong, tt.want, tt.strong)
			}
		})
	}
}

func TestHTMLToTextBounded(t *testing.T) {
	big := strings.Repeat("<div><b>x</b></div>", 100000)
	got, _ := convertHTML(big, false, 1000)
	if len(got) > 1000 {
		t.Errorf("output %d bytes over the cap", len(got))
	}
	deep := strings.Repeat("<blockquote type=cite>", 50000) + "x"
	if got, _ := stripQuotedHTML(deep, 1<<20); got != "" {
		t.Errorf("deep quotes: %q", got)
	}
}
