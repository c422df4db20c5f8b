package acceptance

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("`helpdesk compact` rewrites the store without free space while the daemon runs (writes wait, then commit), prints the bytes before and after; mail sent during compactions that got 250 is all there, before and after a restart",
	"TestCompactUnderFlowingMail")

type compactView struct {
	Before     int64 `json:"before"`
	After      int64 `json:"after"`
	FreeBefore int64 `json:"free_before"`
}

// Issue 16 item 2: compaction is online. Eight clients send mail while
// the store is compacted three times; every mail that got its 250 is a
// ticket afterwards, and again after a restart.
func TestCompactUnderFlowingMail(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{NoRelay: true})
	// Some history first, so that there are freed pages.
	for i := 0; i < 20; i++ {
		e.Customer(testkit.Mail{From: fmt.Sprintf("early%d@cust.example", i), To: []string{"support@example.com"},
			Subject: fmt.Sprintf("early %d", i), Body: strings.Repeat("Some words of a first mail. ", 40)})
	}
	var (
		mu       sync.Mutex
		accepted []string // subjects of mail answered 250
		refused  int
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				subj := fmt.Sprintf("flow c%d m%d", c, i)
				m := testkit.Mail{From: fmt.Sprintf("flow%d@cust.example", c), To: []string{"support@example.com"},
					Subject: subj, MessageID: e.ID("flow"), Body: strings.Repeat("Mail that arrives while the store is compacted. ", 20)}
				err := e.Send(Addr(m.From), []string{"support@example.com"}, m.Build())
				mu.Lock()
				if err == nil {
					accepted = append(accepted, subj)
				} else {
					refused++
				}
				mu.Unlock()
			}
		}(c)
	}
	var runs []compactView
	for i := 0; i < 3; i++ {
		time.Sleep(300 * time.Millisecond) // let mail flow between the runs
		out := e.MustCLI("compact", "--json")
		var v compactView
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("compact --json: %v\n%s", err, out)
		}
		runs = append(runs, v)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d mails answered 250 during the compactions, %d refused; runs %+v", len(accepted), refused, runs)
	if len(accepted) < 20 {
		t.Fatalf("only %d mails got through while compacting: the writer stalled", len(accepted))
	}
	if runs[0].Before <= 0 || runs[0].After <= 0 || runs[0].After >= runs[0].Before {
		t.Errorf("the first compaction reported %+v: want a smaller file after", runs[0])
	}
	if st, err := os.Stat(filepath.Join(e.Dir, "helpdesk.db")); err != nil || st.Size() <= 0 {
		t.Errorf("store file after compaction: %v", err)
	}
	for _, side := range []string{"helpdesk.db.compact", "helpdesk.db.old"} {
		if _, err := os.Stat(filepath.Join(e.Dir, side)); err == nil {
			t.Errorf("%s left behind", side)
		}
	}
	human := e.MustCLI("compact")
	if !strings.Contains(human, "bytes before") || !strings.Contains(human, "after") {
		t.Errorf("compact prints %q, want the bytes before and after", human)
	}
	check := func(when string) {
		var list []struct {
			Subject string `json:"subject"`
		}
		e.JSON(&list, "tickets")
		have := map[string]bool{}
		for _, x := range list {
			have[x.Subject] = true
		}
		missing := 0
		for _, s := range accepted {
			if !have[s] {
				missing++
				if missing < 5 {
					t.Errorf("%s: %q got 250 but is no ticket", when, s)
				}
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d accepted mails are missing", when, missing, len(accepted))
		}
		if len(list) < 20+len(accepted) {
			t.Errorf("%s: %d tickets, want at least %d", when, len(list), 20+len(accepted))
		}
	}
	check("after the compactions")
	e.Restart()
	check("after a restart")
	// The store still takes mail.
	e.Customer(testkit.Mail{From: "late@cust.example", To: []string{"support@example.com"}, Subject: "after all that", Body: "Still there?"})
	var last []struct {
		Subject string `json:"subject"`
	}
	e.JSON(&last, "tickets", "--limit", "1")
	if len(last) != 1 || last[0].Subject != "after all that" {
		t.Errorf("newest ticket after compaction and restart: %+v", last)
	}
}
