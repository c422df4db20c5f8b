package config

import (
	"strings"
	"testing"
)

// [store] is checked key by key: each problem names its key, its line and
// a fix; bbolt stays the default.
func TestStoreValidation(t *testing.T) {
	if c, err := Parse(people); err != nil || c.Store.Engine != EngineBolt {
		t.Fatalf("default engine: %+v, %v; want bbolt", c, err)
	}
	ok := "[store]\nengine = \"postgres\"\ndsn = \"host=/run/postgresql dbname=helpdesk\"\nnode = \"mx-1\"\n" + people
	if c, err := Parse(ok); err != nil || c.Store.Engine != EnginePostgres || c.Store.Node != "mx-1" {
		t.Fatalf("a valid [store]: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		text, key string
		line      int
		msg, fix  string
	}{
		{"[store]\nengine = \"mysql\"\n", "store.engine", 2, `"mysql" is not a storage engine`, `"postgres"`},
		{"[store]\nengine = \"postgres\"\n", "store.dsn", 0, "missing", "dsn = "},
		{"[store]\nengine = \"postgres\"\ndsn = \"postgres://x:99999999/db\"\n", "store.dsn", 3, "not a PostgreSQL connection string", "postgres://"},
		{"[store]\ndsn = \"postgres://db/helpdesk\"\n", "store.dsn", 2, `while store.engine is "bbolt"`, `engine = "postgres"`},
		{"[store]\nnode = \"two words\"\n", "store.node", 2, "not a node name", `node = "mx1"`},
	} {
		ps := problems(t, tc.text+people)
		if len(ps) != 1 || ps[0].Key != tc.key || !strings.Contains(ps[0].Msg, tc.msg) || !strings.Contains(ps[0].Fix, tc.fix) ||
			(tc.line != 0 && ps[0].Line != tc.line) {
			t.Errorf("%q: problems %+v; want one for %s line %d", tc.text, ps, tc.key, tc.line)
		}
	}
}
