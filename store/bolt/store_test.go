package bolt

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Many concurrent writers share commits, and every write is visible after
// its Update returns.
func TestGroupCommitConcurrent(t *testing.T) {
	db := openTest(t)
	const n = 200
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := db.Update(func(tx store.Tx) error {
				return tx.NewTicket(&model.Ticket{Subject: fmt.Sprint(i)})
			})
			if err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	db.View(func(tx store.Tx) error {
		if c := tx.TicketCount(); c != n {
			t.Errorf("tickets = %d, want %d", c, n)
		}
		return nil
	})
	if db.Commits.Load() >= n {
		t.Logf("no grouping happened (%d commits for %d writes); fine on an idle machine", db.Commits.Load(), n)
	}
	if db.Batched.Load() != n {
		t.Errorf("batched = %d, want %d", db.Batched.Load(), n)
	}
}

func TestReopenKeepsDataAndSecret(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var keys1 string
	db.View(func(tx store.Tx) error { k, _ := tx.Keys(); keys1 = fmt.Sprint(k); return nil })
	id1 := db.InstallationID()
	db.Update(func(tx store.Tx) error { return tx.NewTicket(&model.Ticket{Subject: "x"}) })
	db.Close()
	if err := db.Update(func(tx store.Tx) error { return nil }); err != store.ErrClosed {
		t.Errorf("update after close: %v", err)
	}
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.InstallationID() != id1 || id1 == "" {
		t.Errorf("installation id changed: %q -> %q", id1, db.InstallationID())
	}
	db.View(func(tx store.Tx) error {
		k, _ := tx.Keys()
		if fmt.Sprint(k) != keys1 {
			t.Error("token keys changed across reopen")
		}
		if tx.TicketCount() != 1 {
			t.Error("ticket lost")
		}
		return nil
	})
}

func TestLockTimeout(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(dir, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second open: %v, want a lock error", err)
	}
}

func TestSpoolBlobAndBackupRestore(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 10000)
	sp := db.NewSpool(1000)
	sp.Write(big[:600])
	sp.Write(big[600:])
	if !sp.Spooled() || sp.Size() != 10000 {
		t.Fatalf("spooled=%v size=%d", sp.Spooled(), sp.Size())
	}
	rel, err := sp.Commit()
	if err != nil || rel == "" {
		t.Fatal(rel, err)
	}
	sp.Close()
	small := db.NewSpool(1000)
	small.Write([]byte("small"))
	if small.Spooled() {
		t.Fatal("small spooled")
	}
	var bigID, smallID uint64
	db.Update(func(tx store.Tx) error {
		m := &model.Message{Blob: rel, Size: 10000}
		tx.AddMessage(m, nil)
		bigID = m.ID
		s := &model.Message{Size: 5}
		tx.AddMessage(s, small.Bytes())
		smallID = s.ID
		return nil
	})
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp not empty after commit: %v", ents)
	}
	var buf bytes.Buffer
	n, err := db.Backup(&buf)
	if err != nil || n != 2 {
		t.Fatalf("backup files=%d err=%v", n, err)
	}
	db.Close()

	// Restore into a fresh dir and read both messages back.
	rdir := t.TempDir()
	if n, err := Restore(&buf, rdir); err != nil || n != 2 {
		t.Fatalf("restore: %d files, %v", n, err)
	}
	rdb, err := Open(rdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	for id, want := range map[uint64]int{bigID: 10000, smallID: 5} {
		var m *model.Message
		rdb.View(func(tx store.Tx) error { m, err = tx.Message(id); return err })
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rdb.OpenRaw(m)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if len(b) != want {
			t.Errorf("message %d: %d bytes after restore, want %d", id, len(b), want)
		}
	}
}

// A write that others are about to join waits for them (bounded); a lone
// writer never waits.
func TestGatherComing(t *testing.T) {
	var coming atomic.Int64
	db, err := Open(t.TempDir(), Options{Coming: func() int { return int(coming.Load()) }, GatherMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Alone: no wait.
	coming.Store(1)
	start := time.Now()
	if err := db.Update(func(tx store.Tx) error { return tx.NewTicket(&model.Ticket{Subject: "alone"}) }); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("a lone write waited %v", d)
	}
	// Two under way: the first waits for the second and they share a commit.
	coming.Store(2)
	before := db.Commits.Load()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		db.Update(func(tx store.Tx) error { return tx.NewTicket(&model.Ticket{Subject: "a"}) })
	}()
	time.Sleep(20 * time.Millisecond) // the second arrives while the first gathers
	go func() {
		defer wg.Done()
		db.Update(func(tx store.Tx) error { return tx.NewTicket(&model.Ticket{Subject: "b"}) })
	}()
	wg.Wait()
	if n := db.Commits.Load() - before; n != 1 {
		t.Errorf("%d commits for two writes under way, want 1", n)
	}
	// One announced but never coming: the wait ends at GatherMax.
	coming.Store(5)
	start = time.Now()
	db.Update(func(tx store.Tx) error { return nil })
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("gather wait %v, want about GatherMax", d)
	}
}

// Raw mail is kept byte for byte, deflated or not.
// A backup entry that would leave the data directory is refused.
func TestRestoreRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil", "/etc/evil", "a/../../evil"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		dir := t.TempDir()
		if _, err := Restore(&buf, filepath.Join(dir, "data")); err == nil {
			t.Errorf("entry %q restored", name)
		}
	}
}

func TestRawPacking(t *testing.T) {
	db := openTest(t)
	small := []byte("Subject: hi\r\n\r\nsmall body\r\n")
	big := bytes.Repeat([]byte("a line of a long mail that compresses well\r\n"), 2000)
	noise := make([]byte, 40<<10)
	for i := range noise {
		noise[i] = byte(i*7919 + i/13)
	}
	ids := map[string]uint64{}
	db.Update(func(tx store.Tx) error {
		for name, raw := range map[string][]byte{"small": small, "big": big, "noise": noise} {
			m := &model.Message{}
			if err := tx.AddMessage(m, raw); err != nil {
				return err
			}
			ids[name] = m.ID
		}
		return nil
	})
	db.View(func(tx store.Tx) error {
		for name, raw := range map[string][]byte{"small": small, "big": big, "noise": noise} {
			if got := tx.RawInline(ids[name]); !bytes.Equal(got, raw) {
				t.Errorf("%s: raw bytes changed (%d vs %d bytes)", name, len(got), len(raw))
			}
		}
		return nil
	})
	if p := packRaw(big); len(p) >= len(big)/4 {
		t.Errorf("a repetitive 88 KB mail packed to %d bytes", len(p))
	}
}

func TestReserveMessageAndNewUserWriteOnce(t *testing.T) {
	db := openTest(t)
	var id uint64
	err := db.Update(func(tx store.Tx) error {
		m := &model.Message{MessageID: "once@x", BodyHash: "h"}
		if err := tx.ReserveMessage(m, packRaw([]byte("raw bytes"))); err != nil {
			return err
		}
		id = m.ID
		if _, err := tx.Message(id); err != store.ErrNotFound {
			t.Errorf("reserved message has a record before PutMessage: %v", err)
		}
		u, err := tx.NewUser("new@x", "New")
		if err != nil {
			return err
		}
		u.AckTimes = []int64{3}
		m.Ticket, m.Disposition = 5, model.DispTicket
		if err := tx.PutUser(u); err != nil {
			return err
		}
		return tx.PutMessage(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx store.Tx) error {
		m, err := tx.Message(id)
		if err != nil || m.Ticket != 5 || m.Disposition != model.DispTicket || string(tx.RawInline(id)) != "raw bytes" {
			t.Errorf("message %d = %+v, %v", id, m, err)
		}
		if d, _ := tx.Duplicate("once@x", "h"); d == nil || d.ID != id {
			t.Errorf("dedupe key missing: %+v", d)
		}
		if u, err := tx.User("new@x"); err != nil || u.Name != "New" || len(u.AckTimes) != 1 {
			t.Errorf("user = %+v, %v", u, err)
		}
		return nil
	})
	if err := db.Update(func(tx store.Tx) error {
		_, err := tx.EnsureUser("other@x", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.View(func(tx store.Tx) error {
		if _, err := tx.User("other@x"); err != nil {
			t.Errorf("EnsureUser did not store the user: %v", err)
		}
		return nil
	})
}

func TestMarshalKeepsTextExact(t *testing.T) {
	c := &model.Comment{ID: 1, Text: "<b>a & b</b>\n\u2028 ünïcode \"q\" \\ \x01", Recipients: []string{"x@y"}}
	data, err := marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasSuffix(data, []byte("\n")) || !bytes.Contains(data, []byte("<b>a & b</b>")) {
		t.Errorf("marshal = %s", data)
	}
	var back model.Comment
	if err := json.Unmarshal(data, &back); err != nil || back.Text != c.Text {
		t.Errorf("round trip: %q, %v", back.Text, err)
	}
	std, _ := json.Marshal(c)
	var fromStd model.Comment
	json.Unmarshal(std, &fromStd)
	if fromStd.Text != back.Text {
		t.Error("differs from encoding/json's reading")
	}
	again, _ := marshal(c)
	if &again[0] == &data[0] {
		t.Error("marshal reused its result buffer")
	}
}

// Raw values deflated by earlier versions are still read.
func TestRawDeflatedStillRead(t *testing.T) {
	raw := bytes.Repeat([]byte("Subject: old\r\n\r\nan old mail\r\n"), 400)
	var b bytes.Buffer
	b.WriteByte(rawDeflated)
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(raw)
	w.Close()
	got, err := unpackRaw(b.Bytes())
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("deflated value: %v, %d bytes", err, len(got))
	}
	if p := packRaw(raw); p[0] != rawS2 || len(p) >= len(raw)/2 {
		t.Errorf("packRaw wrote encoding %d, %d bytes", p[0], len(p))
	}
}

// A record with a mail's text is stored compressed, a small one as JSON;
// both read back the same.
func TestRecordCompression(t *testing.T) {
	words := strings.Fields("printer queue stuck since friday please help the spooler service restarts reinstall driver")
	var text strings.Builder
	for i := 0; text.Len() < 4<<10; i++ {
		text.WriteString(words[(i*7)%len(words)] + " ")
	}
	big := &model.Comment{ID: 1, Ticket: 2, Text: text.String()}
	data, err := marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != valS2 || len(data) > len(text.String())/2 {
		t.Errorf("4 KiB comment stored as %d bytes starting %q", len(data), data[:1])
	}
	var back model.Comment
	if err := unmarshal(data, &back); err != nil || back.Text != big.Text {
		t.Fatalf("round trip: %v", err)
	}
	small, _ := marshal(&model.Comment{ID: 1, Text: "short"})
	if small[0] != '{' {
		t.Errorf("small record not plain JSON: %s", small)
	}
	// A stored record is read through the same path.
	db := openTest(t)
	db.Update(func(tx store.Tx) error {
		tk := &model.Ticket{ID: 1, Subject: "x"}
		if err := tx.InsertTicket(tk); err != nil {
			return err
		}
		return tx.AddComment(tk, &model.Comment{Text: big.Text})
	})
	db.View(func(tx store.Tx) error {
		cs, err := tx.Comments(1)
		if err != nil || len(cs) != 1 || cs[0].Text != big.Text {
			t.Errorf("comments: %v, %d", err, len(cs))
		}
		return nil
	})
}

// A version 1 store opens and is marked version 2 (its values read as
// they are); a store newer than this binary is refused, not misread.
func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	setVersion := func(v uint64) {
		if err := db.bdb().Update(func(btx *bbolt.Tx) error {
			return btx.Bucket(bMeta).Put([]byte("schema_version"), u64(v))
		}); err != nil {
			t.Fatal(err)
		}
	}
	setVersion(1)
	db.Close()
	if db, err = Open(dir, Options{}); err != nil {
		t.Fatalf("version 1 store: %v", err)
	}
	db.bdb().View(func(btx *bbolt.Tx) error {
		if v := btx.Bucket(bMeta).Get([]byte("schema_version")); binary.BigEndian.Uint64(v) != SchemaVersion {
			t.Errorf("schema version after open = %d", binary.BigEndian.Uint64(v))
		}
		return nil
	})
	setVersion(SchemaVersion + 1)
	db.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Errorf("newer store: %v", err)
	}
}

// TestSpoolReusesMemory: a closed spool's buffer serves the next one,
// which holds only its own bytes; a spool that went to disk hands its
// buffer back too; a second Close is harmless.
func TestSpoolReusesMemory(t *testing.T) {
	db := openTest(t)
	for i := 0; i < 50; i++ {
		sp := db.NewSpool(64 << 10)
		msg := bytes.Repeat([]byte{byte('a' + i%26)}, 100+i*300)
		sp.Write(msg)
		if !bytes.Equal(sp.Bytes(), msg) {
			t.Fatalf("spool %d holds %d bytes, not its own %d", i, len(sp.Bytes()), len(msg))
		}
		r, _ := sp.Reader()
		got, _ := io.ReadAll(r)
		if !bytes.Equal(got, msg) {
			t.Fatalf("spool %d reads back %d bytes", i, len(got))
		}
		sp.Close()
		sp.Close()
	}
	sp := db.NewSpool(1000)
	sp.Write(bytes.Repeat([]byte("y"), 900))
	sp.Write(bytes.Repeat([]byte("z"), 900))
	if !sp.Spooled() || sp.Bytes() != nil {
		t.Fatal("not spooled")
	}
	r, _ := sp.Reader()
	got, _ := io.ReadAll(r)
	if want := append(bytes.Repeat([]byte("y"), 900), bytes.Repeat([]byte("z"), 900)...); !bytes.Equal(got, want) {
		t.Fatalf("spooled body reads back %d bytes", len(got))
	}
	sp.Close()
	next := db.NewSpool(1000)
	next.Write([]byte("fresh"))
	if string(next.Bytes()) != "fresh" {
		t.Fatalf("next spool holds %q", next.Bytes())
	}
	next.Close()
	// And the buffer is reused: a spool does not allocate a new body
	// buffer (8 KiB or more) for each message.
	body := make([]byte, 4096)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 200; i++ {
		sp := db.NewSpool(64 << 10)
		sp.Write(body)
		sp.Close()
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 200; per > 2048 && !raceEnabled {
		t.Errorf("%d bytes allocated per spool: the memory buffer is not reused", per)
	}
}

// resumeMigration stands for a start that stopped after a migration's
// first transaction: it runs step once on dir's store with limit (which
// must do exactly limit units of work), then opens the store as a
// daemon's start does, which must finish the migration.
func resumeMigration(t *testing.T, dir string, step func(*bbolt.Tx, int) (int, error), limit int) *DB {
	t.Helper()
	bdb, err := bbolt.Open(filepath.Join(dir, "helpdesk.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bbolt.Tx) error {
		n, err := step(tx, limit)
		if n != limit {
			t.Errorf("the interrupted migration did %d units of work, want %d (the limit)", n, limit)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}
