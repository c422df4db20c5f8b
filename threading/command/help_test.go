package command

import (
	"strings"
	"testing"
)

func TestHelpCardCoversEverything(t *testing.T) {
	card := HelpCard()
	var words []string
	for _, n := range Names() {
		words = append(words, "#"+n)
	}
	for _, s := range shortForms {
		words = append(words, "#"+s)
	}
	words = append(words, statuses...)
	words = append(words, priorities...)
	words = append(words, types...)
	words = append(words, includes...)
	words = append(words, lists...)
	words = append(words, periodKeywords...)
	words = append(words, "solved = resolved", "on-hold = waiting-third-party", "light agents", "admins",
		"PUBLIC", "PRIVATE", "All or nothing", "# Summary", "#1", "did you mean")
	for _, w := range words {
		if !strings.Contains(card, w) {
			t.Errorf("help card does not mention %q", w)
		}
	}
	// Every example on the card is valid.
	example := card[strings.Index(card, "EXAMPLE\n")+len("EXAMPLE\n"):]
	var lines []string
	for _, l := range strings.Split(example, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	b := Parse(strings.Join(lines, "\n"))
	if len(b.Commands) != 3 || len(Validate(b, RoleAgent)) != 0 || b.Text != "Hello Ken, the new certificate is on its way." {
		t.Errorf("example parses to %q / %q", cmds(b), b.Text)
	}
	for i, l := range strings.Split(card, "\n") {
		if len([]rune(l)) > 78 {
			t.Errorf("help card line %d is %d characters long", i+1, len([]rune(l)))
		}
		// A card pasted into a reply must never turn into commands.
		if isCommandLine(l) {
			t.Errorf("help card line %d reads as a command: %q", i+1, l)
		}
	}
}

func TestFooter(t *testing.T) {
	pub := `-- 
A plain reply to this mail is PUBLIC: the requester and CCs get it.
Start it with #note to make it a private note instead.
Commands go at the top, one per line:
  #status pending|resolved   #assign me|<agent>
  #tag +a -b   #forward <addr>
Send #help for all commands.
`
	priv := `-- 
A plain reply to this mail is PRIVATE: a note for staff only.
Start it with #reply to answer the requester and CCs instead.
Commands go at the top, one per line:
  #status pending|resolved   #assign me|<agent>
  #tag +a -b   #forward <addr>
Send #help for all commands.
`
	for _, f := range []string{Footer(true), Footer(false)} {
		if b := Parse(f); len(b.Commands) > 0 {
			t.Errorf("footer reads as commands: %q", cmds(b))
		}
		for _, l := range strings.Split(f, "\n") {
			if isCommandLine(l) {
				t.Errorf("footer line reads as a command: %q", l)
			}
		}
	}
	if got := Footer(true); got != pub {
		t.Errorf("Footer(true):\n%s", got)
	}
	if got := Footer(false); got != priv {
		t.Errorf("Footer(false):\n%s", got)
	}
}

// The footer of a side-thread notification names the collaborators and
// says where a plain reply, #reply and #note go (SPEC 3.4, 6).
func TestSideFooter(t *testing.T) {
	for _, light := range []bool{false, true} {
		f := SideFooter([]string{"orders@vendor.example"}, light)
		wants := []string{"orders@vendor.example", "#note", "private note on the main thread"}
		if !light {
			wants = append(wants, "goes to the side thread's collaborators", "#reply", "requester and CCs on the main thread")
		} else if strings.Contains(f, "#reply") {
			t.Errorf("light agent's side footer offers #reply:\n%s", f)
		}
		for _, w := range wants {
			if !strings.Contains(f, w) {
				t.Errorf("side footer (light=%v) lacks %q:\n%s", light, w, f)
			}
		}
		for i, l := range strings.Split(f, "\n") {
			if len([]rune(l)) > 78 || isCommandLine(l) {
				t.Errorf("side footer (light=%v) line %d: %q", light, i+1, l)
			}
		}
	}
}
