package acceptance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	storebolt "helpdesk/store/bolt"
)

var _ = claim("a store of the previous schema version (1, written by the last binary of that version: testdata/store-v1) is read as that binary showed it, by the CLI without migrating it and by the daemon, which upgrades it in place on start: tickets, comments, quarantine, the queued outbound mail (delivered, files byte for byte), a blob file, reply tokens",
	"TestOldSchemaStoreIsUpgraded")
var _ = claim("a store of a schema newer than the binary is refused by `helpdesk serve` and by the CLI with a message naming both versions, and left untouched",
	"TestNewerSchemaStoreIsRefused")

// unpackFixture extracts testdata/store-v<N>/data.tar.gz into a new data
// directory and returns it with what the old binary showed of it.
func unpackFixture(t *testing.T, schema int) (string, map[string]string) {
	t.Helper()
	fx := filepath.Join("testdata", fmt.Sprintf("store-v%d", schema))
	var exp map[string]string
	b, err := os.ReadFile(filepath.Join(fx, "expected.json"))
	if err == nil {
		err = json.Unmarshal(b, &exp)
	}
	if err != nil {
		t.Fatalf("reading the fixture: %v", err)
	}
	f, err := os.Open(filepath.Join(fx, "data.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		os.MkdirAll(filepath.Dir(p), 0o750)
		data, err := io.ReadAll(tr)
		if err == nil {
			err = os.WriteFile(p, data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir, exp
}

// schemaOf reads the schema version recorded in the store file in dir.
func schemaOf(t *testing.T, dir string) uint64 {
	t.Helper()
	v, err := storebolt.SchemaOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(v)
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// contains reports where got lacks or changes something of want (JSON
// values): every member of an object, every element of an array.
// Members the current binary added are allowed; nothing may differ.
func contains(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v, want an object", path, got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing (want %v)", path, k, wv))
				continue
			}
			diffs = append(diffs, contains(path+"."+k, wv, gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, contains(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: %v, want %v", path, got, want)}
		}
		return nil
	}
}

// sameAsOld fails unless the current binary's output of a command shows
// everything the old binary showed of the same store.
func sameAsOld(t *testing.T, exp map[string]string, cmd, out string) {
	t.Helper()
	var want, got any
	if err := json.Unmarshal([]byte(exp[cmd]), &want); err != nil {
		t.Fatalf("fixture %q: %v", cmd, err)
	}
	if err := json.Unmarshal([]byte(shortRaw(t, out)), &got); err != nil {
		t.Fatalf("helpdesk %s --json: %v\n%s", cmd, err, out)
	}
	if d := contains(cmd, want, got); len(d) > 0 {
		t.Errorf("helpdesk %s reads the old store differently:\n  %s", cmd, strings.Join(d, "\n  "))
	}
}

// The fixture was written by the last binary of schema 1 (commit e27645b;
// scripts/make-schema-fixture rebuilds it): ticket 1 with a packed long
// mail, a public answer and a private note, ticket 2 whose acknowledgement
// and notifications (carrying csr.pem, queued as that binary queued them)
// wait in the queue, a forged staff mail and a looping mail kept as a
// blob file in quarantine.
func TestOldSchemaStoreIsUpgraded(t *testing.T) {
	bboltOnly(t)
	dir, exp := unpackFixture(t, 1)
	db := filepath.Join(dir, "helpdesk.db")
	if v := schemaOf(t, dir); v != 1 {
		t.Fatalf("fixture has schema %d, want 1", v)
	}
	cmds := []string{"tickets", "show 1", "show 2", "quarantine list", "quarantine show 1", "quarantine show 2", "outbox --limit 1000"}

	// The CLI without a daemon reads the old store as it is and leaves it so.
	cfg := filepath.Join(t.TempDir(), "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(testkit.BaseConfig(dir, "", "127.0.0.1:1")+Staff), 0o600); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, db)
	for _, c := range cmds {
		args := append(strings.Fields(c), "--json", "-config", cfg)
		out, errs, code := runBin(t, args...)
		if code != 0 {
			t.Fatalf("helpdesk %s on the old store: exit %d: %s", c, code, errs)
		}
		sameAsOld(t, exp, c, out)
	}
	if fileSum(t, db) != before {
		t.Errorf("reading the old store with the CLI changed the file")
	}

	// The daemon upgrades it in place and reads it the same.
	e := Start(t, Options{Dir: dir, SMTP: fixtureSMTP})
	for _, c := range cmds[:6] {
		sameAsOld(t, exp, c, e.MustCLI(append(strings.Fields(c), "--json")...))
	}
	// The queued mail of ticket 2 goes out: the acknowledgement, and the
	// notifications with the customer's file byte for byte.
	e.Eventually(30*time.Second, func() bool { return len(e.Sink.To(ken)) == 1 && len(e.Sink.To(vic)) == 1 },
		func() string { return e.MustCLI("outbox") })
	if ack := e.Sink.To(ken)[0]; !strings.Contains(ack.Header("Subject"), "[#2]") {
		t.Errorf("queued acknowledgement: %q", ack.Header("Subject"))
	}
	for _, agent := range []string{vic, venkat, ada} {
		n := e.Find(agent, "Queued while the relay was down")
		if len(n.Env.Attachments) != 1 || string(n.Env.Attachments[0].Content) != fixtureCSR {
			t.Errorf("%s's queued notification lost its file: %d attachments", agent, len(n.Env.Attachments))
		}
	}
	// The old reply token (and secret) still thread Ken's answer into ticket 1.
	had := len(e.Show(1).Comments)
	e.Customer(testkit.Mail{From: kenFr, To: []string{exp["ack_reply_to"]}, Subject: "Re: whatever", Body: "Two years, please."})
	if tk := e.Show(1); len(tk.Comments) <= had || !hasComment(tk, "Two years, please.") {
		t.Errorf("a reply to the old acknowledgement did not join ticket 1: %+v", tk.Comments)
	}
	// The looping mail's blob file is read whole: released, it opens a
	// ticket whose notification carries the 300 KiB file byte for byte.
	e.MustCLI("quarantine", "release", "2")
	n := e.Find(vic, "Logs attached")
	if len(n.Env.Attachments) != 1 || !bytes.Equal(n.Env.Attachments[0].Content, fixtureBlob()) {
		t.Errorf("the released blob's file did not arrive whole")
	}
	e.Stop()
	if v := schemaOf(t, dir); v != storebolt.SchemaVersion {
		t.Errorf("after the daemon ran the store has schema %d, want %d", v, storebolt.SchemaVersion)
	}
}

func hasComment(tk *Ticket, text string) bool {
	for _, c := range tk.Comments {
		if c.Kind == "comment" && c.Text == text {
			return true
		}
	}
	return false
}

func TestNewerSchemaStoreIsRefused(t *testing.T) {
	bboltOnly(t)
	dir, _ := unpackFixture(t, 1)
	db := filepath.Join(dir, "helpdesk.db")
	newer := uint64(storebolt.SchemaVersion + 1)
	if err := storebolt.SetSchemaVersion(dir, int(newer)); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, db)
	cfg := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(testkit.BaseConfig(dir, "", "127.0.0.1:1")+Staff), 0o600); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("schema version %d, newer than this binary's %d: use a newer helpdesk", newer, storebolt.SchemaVersion)
	for _, c := range [][]string{{"serve"}, {"tickets"}, {"show", "1"}, {"outbox"}, {"backup", filepath.Join(t.TempDir(), "b.tar")}} {
		out, errs, code := runBin(t, append(c, "-config", cfg)...)
		if code == 0 || !strings.Contains(errs, want) || !strings.Contains(errs, db) {
			t.Errorf("helpdesk %s on a newer store: exit %d, want a refusal naming %s and %q\nstdout: %s\nstderr: %s", c[0], code, db, want, out, errs)
		}
	}
	if fileSum(t, db) != before {
		t.Errorf("a refused store was changed")
	}
}
