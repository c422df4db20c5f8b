package storetest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// notPersisted lists the exported fields of stored records that are
// deliberately not written, "Type.Field" -> why. Every other exported
// field must come back from the store exactly as it was written: a field
// that silently drops out of persistence (as Attachment.Part and
// Attachment.Message once did, tagged json:"-", so no queued mail with a
// file was ever sent) fails TestEveryStoredFieldRoundTrips.
var notPersisted = map[string]string{}

// filler sets every exported field of a value to a distinct non-zero
// value. long makes strings of a few KiB, so records take an engine's
// path for large values too (bolt compresses them).
// longText is the length of a long string.
const longText = 2 << 10

type filler struct {
	n    int
	long bool
}

func (f *filler) next() int { f.n++; return f.n }

func (f *filler) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		s := fmt.Sprintf("v%d <&> 견적서", f.next())
		if f.long {
			s += strings.Repeat(" filler", longText/7+1)
		}
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.next()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.next()%200 + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			f.fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k)
			f.fill(e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			// UTC and no monotonic reading: what a JSON round trip
			// gives back, so DeepEqual compares the instant.
			n := f.next()
			v.Set(reflect.ValueOf(time.Unix(1_780_000_000+int64(n)*3600, int64(n)*1001).UTC()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i))
			}
		}
	default:
		panic(fmt.Sprintf("roundtrip filler: no rule for %s", v.Type()))
	}
}

// zeroFields lists the exported fields (as Type.Field paths) of v that
// are zero: the filler must have missed none, or a dropped field would
// compare equal.
func zeroFields(v reflect.Value, path string, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			*out = append(*out, path)
			return
		}
		zeroFields(v.Elem(), path, out)
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			*out = append(*out, path)
		}
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Struct {
			for i := 0; i < v.Len(); i++ {
				zeroFields(v.Index(i), path+"[]", out)
			}
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			if v.Interface().(time.Time).IsZero() {
				*out = append(*out, path)
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if sf := v.Type().Field(i); sf.IsExported() {
				zeroFields(v.Field(i), path+"."+sf.Name, out)
			}
		}
	default:
		if v.IsZero() {
			*out = append(*out, path)
		}
	}
}

// dropUnpersisted zeroes the notPersisted fields of v (recursively), so
// the comparison expects them back empty.
func dropUnpersisted(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			dropUnpersisted(v.Elem())
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			dropUnpersisted(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			dropUnpersisted(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			if _, ok := notPersisted[v.Type().Name()+"."+sf.Name]; ok {
				v.Field(i).Set(reflect.Zero(sf.Type))
				continue
			}
			dropUnpersisted(v.Field(i))
		}
	}
}

// structTypes collects the named struct types reachable from t.
func structTypes(t reflect.Type, seen map[reflect.Type]bool) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		structTypes(t.Elem(), seen)
	case reflect.Map:
		structTypes(t.Key(), seen)
		structTypes(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] || t == reflect.TypeOf(time.Time{}) {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			structTypes(t.Field(i).Type, seen)
		}
	}
}

// roundTrip writes every kind of record the store keeps, with every
// exported field set to a distinct non-zero value, through the store's
// own write functions, reopens the store, reads each back through its own
// readers and compares with DeepEqual. The store's other values are not
// records with fields: raw messages (testMessages, testBlobs), rate
// windows, counters and index keys. Key rings are written by the store
// itself (RotateKey): one rotated ring, every field set, must come back
// as it was read before the reopen.
func roundTrip(t *testing.T, e *env, long bool) {
	f := &filler{long: long}
	filled := func(v any) {
		t.Helper()
		rv := reflect.ValueOf(v).Elem()
		f.fill(rv)
		var zero []string
		zeroFields(rv, rv.Type().Name(), &zero)
		if len(zero) > 0 {
			t.Fatalf("the filler left fields zero: %v", zero)
		}
	}
	var (
		tk  model.Ticket
		c   model.Comment
		m   model.Message
		u   model.User
		ob  model.Outbound
		q   model.Quarantine
		ref model.Ref
		wh  model.WebhookDelivery
		cu  model.Customer
		ca  model.CustomerActivity
		bf  model.CustomerBackfill
		tm  model.Timer
		rev model.ReportEvent
		er  model.Erasure
	)
	for _, v := range []any{&tk, &c, &m, &u, &ob, &q, &ref, &wh, &cu, &ca, &bf, &tm, &rev, &er} {
		filled(v)
	}
	const msgID = "round-trip@client.test"
	e.advance(time.Hour)
	var key model.TokenKey
	e.update(func(tx store.Tx) error {
		id, err := tx.AllocTicketID()
		if err != nil {
			return err
		}
		tk.ID = id
		if err := tx.AddComment(&tk, &c); err != nil {
			return err
		}
		if err := tx.InsertTicket(&tk); err != nil {
			return err
		}
		if err := tx.PutTicket(&tk); err != nil {
			return err
		}
		if err := tx.PutComment(&c); err != nil {
			return err
		}
		if err := tx.AddMessage(&m, []byte("raw")); err != nil {
			return err
		}
		nu, err := tx.NewUser(u.Addr, u.Name)
		if err != nil {
			return err
		}
		u.ID = nu.ID
		if err := tx.PutUser(&u); err != nil {
			return err
		}
		if err := tx.Enqueue(&ob); err != nil {
			return err
		}
		prev := ob.NextAttempt
		ob.State, ob.NextAttempt = model.OutSent, ob.NextAttempt.Add(time.Minute)
		if err := tx.PutOutbound(&ob, prev); err != nil {
			return err
		}
		if err := tx.EnqueueWebhook(&wh); err != nil {
			return err
		}
		prevHook := wh.NextAttempt
		wh.State, wh.NextAttempt = model.HookDelivered, wh.NextAttempt.Add(time.Minute)
		if err := tx.PutWebhook(&wh, prevHook); err != nil {
			return err
		}
		if err := tx.AddQuarantine(&q); err != nil {
			return err
		}
		if err := tx.PutQuarantine(&q); err != nil {
			return err
		}
		if err := tx.IndexMessageID(msgID, ref); err != nil {
			return err
		}
		if err := tx.NewCustomer(&cu); err != nil {
			return err
		}
		if err := tx.PutCustomer(&cu); err != nil {
			return err
		}
		if err := tx.AddCustomerActivity(cu.ID, &ca); err != nil {
			return err
		}
		if err := tx.AddErasure(&er); err != nil {
			return err
		}
		if err := tx.SetCustomerBackfill(bf); err != nil {
			return err
		}
		if err := tx.AddReportEvent(&rev); err != nil {
			return err
		}
		if err := tx.RotateKey(24 * time.Hour); err != nil {
			return err
		}
		tm.At = tm.At.UTC() // the index keeps instants, in UTC
		if err := tx.SetTimer(tm); err != nil {
			return err
		}
		keys, err := tx.Keys()
		if err != nil || len(keys) != 2 {
			return fmt.Errorf("key ring after a rotation: %d keys, %v", len(keys), err)
		}
		key = keys[0] // the retired one: every field set
		return nil
	})
	var zero []string
	zeroFields(reflect.ValueOf(key), "TokenKey", &zero)
	if len(zero) > 0 {
		t.Fatalf("the rotated key ring left fields zero: %v", zero)
	}

	// A fresh process: nothing can come from a cache.
	e.reopen()
	got := map[string][2]any{}
	e.view(func(tx store.Tx) error {
		gtk, err := tx.Ticket(tk.ID)
		if err != nil {
			return err
		}
		// Routing is a view of the ticket record: its fields come back
		// from the ticket as stored.
		groute, err := tx.Routing(tk.ID)
		if err != nil {
			return err
		}
		wroute := model.TicketRouting{Status: tk.Status, Group: tk.Group, Assignee: tk.Assignee, MergedInto: tk.MergedInto}
		got["TicketRouting"] = [2]any{&wroute, &groute}
		gc, err := tx.Comment(c.Ticket, c.ID)
		if err != nil {
			return err
		}
		cs, err := tx.Comments(tk.ID)
		if err != nil || len(cs) != 1 {
			return fmt.Errorf("comments of the ticket: %d, %v", len(cs), err)
		}
		gm, err := tx.Message(m.ID)
		if err != nil {
			return err
		}
		gu, err := tx.User(u.Addr)
		if err != nil {
			return err
		}
		gob, err := tx.Outbound(ob.ID)
		if err != nil {
			return err
		}
		var listed *model.Outbound
		if err := tx.ForEachOutbound(func(o *model.Outbound) error { listed = o; return nil }); err != nil {
			return err
		}
		gwh, err := tx.WebhookDelivery(wh.ID)
		if err != nil {
			return err
		}
		got["WebhookDelivery"] = [2]any{&wh, gwh}
		gtm, err := tx.TimersOf(tm.Ticket)
		if err != nil || len(gtm) != 1 {
			return fmt.Errorf("timers of ticket %d: %v, %v", tm.Ticket, gtm, err)
		}
		got["Timer"] = [2]any{&tm, &gtm[0]}
		gers, err := tx.Erasures()
		if err != nil || len(gers) != 1 {
			return fmt.Errorf("erasures: %d, %v", len(gers), err)
		}
		got["Erasure"] = [2]any{&er, gers[0]}
		gq, err := tx.QuarantineRecord(q.ID)
		if err != nil {
			return err
		}
		gqs, err := tx.Quarantined(0)
		if err != nil || len(gqs) != 1 {
			return fmt.Errorf("quarantine list: %d, %v", len(gqs), err)
		}
		gref, ok := tx.LookupMessageID(msgID)
		if !ok {
			return fmt.Errorf("Message-ID index: %s not found", msgID)
		}
		keys, err := tx.Keys()
		if err != nil || len(keys) != 2 {
			return fmt.Errorf("key ring: %d keys, %v", len(keys), err)
		}
		gcu, err := tx.Customer(cu.ID)
		if err != nil {
			return err
		}
		gcas, err := tx.CustomerActivity(cu.ID, 0, 0)
		if err != nil || len(gcas) != 1 {
			return fmt.Errorf("customer timeline: %d, %v", len(gcas), err)
		}
		gbf, err := tx.CustomerBackfill()
		if err != nil {
			return err
		}
		got["Customer"] = [2]any{&cu, gcu}
		got["CustomerActivity"] = [2]any{&ca, gcas[0]}
		got["CustomerBackfill"] = [2]any{&bf, &gbf}
		var grev *model.ReportEvent
		if err := tx.ReportEvents(rev.At, rev.At.Add(1), func(ev *model.ReportEvent) error { cp := *ev; grev = &cp; return nil }); err != nil || grev == nil {
			return fmt.Errorf("report event: %v, %v", grev, err)
		}
		got["ReportEvent"] = [2]any{&rev, grev}
		got["Ticket"] = [2]any{&tk, gtk}
		got["Comment"] = [2]any{&c, gc}
		got["Comment (Comments)"] = [2]any{&c, cs[0]}
		got["Message"] = [2]any{&m, gm}
		got["User"] = [2]any{&u, gu}
		got["Outbound"] = [2]any{&ob, gob}
		got["Outbound (ForEachOutbound)"] = [2]any{&ob, listed}
		got["Quarantine"] = [2]any{&q, gq}
		got["Quarantine (Quarantined)"] = [2]any{&q, gqs[0]}
		got["Ref"] = [2]any{&ref, &gref}
		got["TokenKey"] = [2]any{&key, &keys[0]}
		return nil
	})
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		want := reflect.New(reflect.TypeOf(got[n][0]).Elem())
		want.Elem().Set(reflect.ValueOf(got[n][0]).Elem())
		dropUnpersisted(want)
		if !reflect.DeepEqual(want.Interface(), got[n][1]) {
			t.Errorf("%s does not round-trip:%s", n, fieldDiff(want.Elem(), reflect.ValueOf(got[n][1]).Elem(), n))
		}
	}

	// Every struct type of the stored model must be part of a record
	// checked above, so a new record type cannot skip this test.
	reached := map[reflect.Type]bool{}
	for _, v := range got {
		structTypes(reflect.TypeOf(v[0]), reached)
	}
	byName := map[string]bool{}
	for ty := range reached {
		if ty.PkgPath() == reflect.TypeOf(model.Ticket{}).PkgPath() {
			byName[ty.Name()] = true
		}
	}
	for _, name := range modelStructs(t) {
		if !byName[name] {
			t.Errorf("model type %s is in no record this test round-trips: add it", name)
		}
	}
	for k := range notPersisted {
		if !byName[strings.Split(k, ".")[0]] {
			t.Errorf("notPersisted names %s, which is not a field of a stored record", k)
		}
	}
}

// fieldDiff names the fields that differ, for a readable failure.
func fieldDiff(want, got reflect.Value, path string) string {
	if want.Kind() == reflect.Struct && want.Type() != reflect.TypeOf(time.Time{}) {
		var b strings.Builder
		for i := 0; i < want.NumField(); i++ {
			if want.Type().Field(i).IsExported() {
				b.WriteString(fieldDiff(want.Field(i), got.Field(i), path+"."+want.Type().Field(i).Name))
			}
		}
		return b.String()
	}
	if want.Kind() == reflect.Slice && got.Kind() == reflect.Slice && want.Len() == got.Len() &&
		want.Type().Elem().Kind() == reflect.Struct {
		var b strings.Builder
		for i := 0; i < want.Len(); i++ {
			b.WriteString(fieldDiff(want.Index(i), got.Index(i), fmt.Sprintf("%s[%d]", path, i)))
		}
		return b.String()
	}
	if reflect.DeepEqual(want.Interface(), got.Interface()) {
		return ""
	}
	short := func(v reflect.Value) string {
		s := fmt.Sprint(v.Interface())
		if r := []rune(s); len(r) > 40 {
			s = string(r[:40]) + "..."
		}
		return s
	}
	return fmt.Sprintf("\n  %s: wrote %s, read %s", path, short(want), short(got))
}

// modelStructs are the struct types declared in package store/model, read
// from its source next to this package's.
func modelStructs(t *testing.T) []string {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no source path for the model package")
	}
	dir := filepath.Join(filepath.Dir(self), "..", "model")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ent := range ents {
		if !strings.HasSuffix(ent.Name(), ".go") || strings.HasSuffix(ent.Name(), "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, ent.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, s := range g.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok {
					if _, ok := ts.Type.(*ast.StructType); ok {
						out = append(out, ts.Name.Name)
					}
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no struct types found in %s", dir)
	}
	return out
}
