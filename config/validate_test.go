package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// people is a valid set of mailboxes, groups, agents and macros; cases put
// their top-level keys and [tables] before it.
const people = `
[[mailbox]]
address = "support@example.com"
name = "Support"
group = "support"

[[group]]
name = "support"

[[group]]
name = "billing"

[[agent]]
email = "alice@example.com"
name = "Alice Park"
role = "agent"
groups = ["support"]
aliases = ["alice@home.example"]

[[agent]]
email = "bob@example.com"
name = "Bob"
role = "light"
groups = ["support", "billing"]

[[macro]]
name = "refund"
commands = ["#status pending", "#tag +refund"]
text = "We have refunded you."
`

// problems parses text and returns its problems (nil when valid).
func problems(t *testing.T, text string) []Problem {
	t.Helper()
	_, err := Parse(text)
	if err == nil {
		return nil
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse: %v", err)
	}
	for _, p := range errs.List {
		if p.Msg == "" || p.Fix == "" {
			t.Errorf("problem without message or fix: %#v", p)
		}
	}
	return errs.List
}

func keysOf(ps []Problem) []string {
	var ks []string
	for _, p := range ps {
		ks = append(ks, p.Key)
	}
	return ks
}

func TestBaseIsValid(t *testing.T) {
	if ps := problems(t, people); ps != nil {
		t.Fatalf("base config: %v", ps)
	}
}

func TestValidateProblems(t *testing.T) {
	tests := []struct {
		name string
		text string   // full text; "+" prefix means text + people
		want []string // keys that must be reported (exactly these)
	}{
		// top level
		{"empty data_dir", `+data_dir = ""`, []string{"data_dir"}},
		{"bad hostname", `+hostname = "mail host"`, []string{"hostname"}},
		{"empty hostname", `+hostname = ""`, []string{"hostname"}},
		// [smtp]
		{"listen not host:port", "+[smtp]\nlisten = \"127.0.0.1\"", []string{"smtp.listen"}},
		{"listen bad port", "+[smtp]\nlisten = \"127.0.0.1:99999\"", []string{"smtp.listen"}},
		{"listen empty", "+[smtp]\nlisten = \"\"", []string{"smtp.listen"}},
		{"message size zero", "+[smtp]\nmax_message_bytes = 0", []string{"smtp.max_message_bytes"}},
		{"message size unit forgotten", "+[smtp]\nmax_message_bytes = 25", []string{"smtp.max_message_bytes"}},
		{"message size huge", "+[smtp]\nmax_message_bytes = \"5GiB\"", []string{"smtp.max_message_bytes"}},
		{"header larger than message", "+[smtp]\nmax_message_bytes = \"32KiB\"\nmax_header_bytes = \"64KiB\"", []string{"smtp.max_header_bytes"}},
		{"line length below RFC", "+[smtp]\nmax_line_length = 998", []string{"smtp.max_line_length"}},
		{"recipients zero", "+[smtp]\nmax_recipients = 0", []string{"smtp.max_recipients"}},
		{"negative timeout", "+[smtp]\nread_timeout = \"-5m\"", []string{"smtp.read_timeout"}},
		{"zero data timeout", "+[smtp]\ndata_timeout = \"0s\"", []string{"smtp.data_timeout"}},
		// [smtp] TLS
		{"tls cert without key", "+[smtp]\ntls_cert_file = \"cert.pem\"", []string{"smtp.tls_key_file"}},
		{"tls key without cert", "+[smtp]\ntls_key_file = \"key.pem\"", []string{"smtp.tls_cert_file"}},
		{"tls cert unreadable", "+[smtp]\ntls_cert_file = \"/nonexistent/cert.pem\"\ntls_key_file = \"/nonexistent/key.pem\"", []string{"smtp.tls_cert_file"}},
		{"require_tls without cert", "+[smtp]\nrequire_tls = true", []string{"smtp.require_tls"}},
		{"tls_ca_file unreadable", "+[outbound]\ntls_ca_file = \"/nonexistent/ca.pem\"", []string{"outbound.tls_ca_file"}},
		// [http] health
		{"health queue age zero", "+[http]\nhealth_queue_age = \"0s\"", []string{"http.health_queue_age"}},
		{"health min free negative", "+[http]\nhealth_min_free = -1", []string{"http.health_min_free"}},
		{"per-ip above total", "+[smtp]\nmax_connections = 10\nmax_connections_per_ip = 20", []string{"smtp.max_connections_per_ip"}},
		{"spool threshold zero", "+[smtp]\nspool_threshold = 0", []string{"smtp.spool_threshold"}},
		{"parse budget without unit", "+[smtp]\nparse_budget = 16", []string{"smtp.parse_budget"}},
		// [http]
		{"http not loopback", "+[http]\nlisten = \"0.0.0.0:2526\"", []string{"http.listen"}},
		{"http all interfaces", "+[http]\nlisten = \":2526\"", []string{"http.listen"}},
		{"http same as smtp", "+[http]\nlisten = \"127.0.0.1:2525\"", []string{"http.listen"}},
		{"http disabled ok", "+[http]\nlisten = \"\"", nil},
		{"http ipv6 loopback ok", "+[http]\nlisten = \"[::1]:2526\"", nil},
		// [outbound]
		{"relay without port", "+[outbound]\nrelay = \"smtp.example.com\"", []string{"outbound.relay"}},
		{"relay port zero", "+[outbound]\nrelay = \"smtp.example.com:0\"", []string{"outbound.relay"}},
		{"relay ok", "+[outbound]\nrelay = \"smtp.example.com:587\"\nusername = \"u\"\npassword = \"p\"\nstarttls = \"required\"", nil},
		{"username without password", "+[outbound]\nrelay = \"smtp.example.com:587\"\nusername = \"u\"", []string{"outbound.password"}},
		{"credentials without relay", "+[outbound]\nusername = \"u\"\npassword = \"p\"", []string{"outbound.username"}},
		{"password in clear", "+[outbound]\nrelay = \"smtp.example.com:587\"\nusername = \"u\"\npassword = \"p\"\nstarttls = \"none\"", []string{"outbound.starttls"}},
		{"starttls enum", "+[outbound]\nstarttls = \"always\"", []string{"outbound.starttls"}},
		{"retry max below initial", "+[outbound]\nretry_initial = \"10m\"\nretry_max = \"1m\"", []string{"outbound.retry_max"}},
		{"command timeout zero", "+[outbound]\ncommand_timeout = \"0s\"", []string{"outbound.command_timeout"}},
		{"command timeout too long", "+[outbound]\ncommand_timeout = \"1h\"", []string{"outbound.command_timeout"}},
		{"from format placeholder", "+[outbound]\nfrom_name_format = \"{name} at {mailbox}\"", []string{"outbound.from_name_format"}},
		{"dkim partial", "+[outbound]\ndkim_domain = \"example.com\"", []string{"outbound.dkim_selector", "outbound.dkim_private_key_file"}},
		{"dkim missing file", "+[outbound]\ndkim_domain = \"example.com\"\ndkim_selector = \"hd\"\ndkim_private_key_file = \"/nonexistent/dkim.pem\"", []string{"outbound.dkim_private_key_file"}},
		// [threading]
		{"tag prefix empty", "+[threading]\ntag_prefix = \"\"", []string{"threading.tag_prefix"}},
		{"tag prefix brackets", "+[threading]\ntag_prefix = \"[#\"", []string{"threading.tag_prefix"}},
		{"token separator", "+[threading]\ntoken_separator = \".\"", []string{"threading.token_separator"}},
		{"reply marker empty", "+[threading]\nreply_marker = \" \"", []string{"threading.reply_marker"}},
		{"reply marker like a command", "+[threading]\nreply_marker = \"#reply above\"", []string{"threading.reply_marker"}},
		{"empty acknowledgement", "+[threading]\nacknowledgements = [\"thanks\", \"\"]", []string{"threading.acknowledgements[1]"}},
		{"max received too low", "+[threading]\nmax_received = 3", []string{"threading.max_received"}},
		{"fanout zero", "+[threading]\nfanout_limit_per_hour = 0", []string{"threading.fanout_limit_per_hour"}},
		{"grace period zero", "+[threading]\nsecret_grace_period = \"0s\"", []string{"threading.secret_grace_period"}},
		// [tickets], [commands]
		{"auto close zero", "+[tickets]\nauto_close_after = \"0h\"", []string{"tickets.auto_close_after"}},
		{"ack rate zero", "+[tickets]\nack_per_sender_per_hour = 0", []string{"tickets.ack_per_sender_per_hour"}},
		{"ack per ip zero", "+[tickets]\nack_per_ip_per_hour = 0", []string{"tickets.ack_per_ip_per_hour"}},
		{"ack total negative", "+[tickets]\nack_per_hour = -1", []string{"tickets.ack_per_hour"}},
		{"confirm enum", "+[commands]\nconfirm = \"never\"", []string{"commands.confirm"}},
		{"leak guard words too low", "+[commands]\nleak_guard_words = 3", []string{"commands.leak_guard_words"}},
		{"leak guard words too high", "+[commands]\nleak_guard_words = 101", []string{"commands.leak_guard_words"}},
		// [auth]
		{"staff unknown check", "+[auth]\nstaff = [\"dmarc\", \"spf\"]", []string{"auth.staff[1]"}},
		{"staff duplicate", "+[auth]\nstaff = [\"token\", \"token\"]", []string{"auth.staff[1]"}},
		{"staff empty", "+[auth]\nstaff = []", []string{"auth.staff"}},
		{"resolver not host:port", "+[auth]\nresolver = \"8.8.8.8\"", []string{"auth.resolver"}},
		{"resolver ok", "+[auth]\nresolver = \"127.0.0.53:53\"", nil},
		{"trusted relays", "+[auth]\ntrusted_relays = [\"10.0.0.0/8\", \"::1\", \"10.0.0.0/33\", \"mx.example.com\"]", []string{"auth.trusted_relays[2]", "auth.trusted_relays[3]"}},
		{"trusted relays too broad", "+[auth]\ntrusted_relays = [\"0.0.0.0/0\", \"::/0\", \"10.0.0.0/7\", \"2000::/3\", \"10.0.0.0/8\", \"2001:db8::/16\", \"192.0.2.1\"]",
			[]string{"auth.trusted_relays[0]", "auth.trusted_relays[1]", "auth.trusted_relays[2]", "auth.trusted_relays[3]"}},
		{"authres with an authserv id", "+[auth]\nstaff = [\"authres\"]\ntrusted_authserv_ids = [\"mx.example.com\"]", nil},
		{"authserv id with space", "+[auth]\ntrusted_authserv_ids = [\"mx example\"]", []string{"auth.trusted_authserv_ids[0]"}},
		{"dns timeout", "+[auth]\ndns_timeout = \"0s\"", []string{"auth.dns_timeout"}},
		{"staff token max age below an hour", "+[auth]\nstaff_token_max_age = \"30m\"", []string{"auth.staff_token_max_age"}},
		{"staff token max age negative", "+[auth]\nstaff_token_max_age = \"-1h\"", []string{"auth.staff_token_max_age"}},
		// required values and references
		{"no mailbox", "[[agent]]\nemail = \"a@example.com\"\nrole = \"agent\"", []string{"mailbox"}},
		{"mailbox without address", "[[mailbox]]\nname = \"Support\"", []string{"mailbox[0].address"}},
		{"mailbox bad address", "[[mailbox]]\naddress = \"Support <support@example.com>\"", []string{"mailbox[0].address"}},
		{"mailbox duplicate", people + "[[mailbox]]\naddress = \"SUPPORT@example.com\"", []string{"mailbox[1].address"}},
		{"mailbox unknown group", people + "[[mailbox]]\naddress = \"sales@example.com\"\ngroup = \"sales\"", []string{"mailbox[1].group"}},
		{"mailbox is sub-address", people + "[[mailbox]]\naddress = \"support+vip@example.com\"", []string{"mailbox[1].address"}},
		{"agent without email", people + "[[agent]]\nname = \"Nobody\"\nrole = \"agent\"", []string{"agent[2].email"}},
		{"agent bad email", people + "[[agent]]\nemail = \"carol\"\nrole = \"agent\"", []string{"agent[2].email"}},
		{"agent bad role", people + "[[agent]]\nemail = \"carol@example.com\"\nrole = \"boss\"", []string{"agent[2].role"}},
		{"agent role upper case", people + "[[agent]]\nemail = \"carol@example.com\"\nrole = \"Admin\"", []string{"agent[2].role"}},
		{"agent missing role", people + "[[agent]]\nemail = \"carol@example.com\"", []string{"agent[2].role"}},
		{"agent duplicate email", people + "[[agent]]\nemail = \"Alice@Example.com\"\nname = \"Alice 2\"\nrole = \"agent\"", []string{"agent[2].email"}},
		{"agent duplicate name", people + "[[agent]]\nemail = \"carol@example.com\"\nname = \"alice park\"\nrole = \"agent\"", []string{"agent[2].name"}},
		{"agent is mailbox", people + "[[agent]]\nemail = \"support@example.com\"\nrole = \"agent\"", []string{"agent[2].email"}},
		{"agent is mailbox sub-address", people + "[[agent]]\nemail = \"support+carol@example.com\"\nrole = \"agent\"", []string{"agent[2].email"}},
		{"agent unknown group", people + "[[agent]]\nemail = \"carol@example.com\"\nrole = \"agent\"\ngroups = [\"support\", \"suport\"]", []string{"agent[2].groups[1]"}},
		{"alias is other agent", people + "[[agent]]\nemail = \"carol@example.com\"\nrole = \"agent\"\naliases = [\"bob@example.com\"]", []string{"agent[2].aliases[0]"}},
		{"alias is other alias", people + "[[agent]]\nemail = \"carol@example.com\"\nrole = \"agent\"\naliases = [\"ALICE@home.example\"]", []string{"agent[2].aliases[0]"}},
		{"alias is mailbox", people + "[[agent]]\nemail = \"carol@example.com\"\nrole = \"agent\"\naliases = [\"support@example.com\"]", []string{"agent[2].aliases[0]"}},
		{"alias not an address", people + "[[agent]]\nemail = \"carol@example.com\"\nrole = \"agent\"\naliases = [\"carol\"]", []string{"agent[2].aliases[0]"}},
		{"group duplicate", people + "[[group]]\nname = \"Support\"", []string{"group[2].name"}},
		{"group without name", people + "[[group]]\nauto_assign = true", []string{"group[2].name"}},
		// macros
		{"macro duplicate", people + "[[macro]]\nname = \"REFUND\"\ntext = \"x\"", []string{"macro[1].name"}},
		{"macro without name", people + "[[macro]]\ntext = \"x\"", []string{"macro[1].name"}},
		{"macro name with space", people + "[[macro]]\nname = \"need info\"\ntext = \"x\"", []string{"macro[1].name"}},
		{"macro command without #", people + "[[macro]]\nname = \"x\"\ncommands = [\"#status pending\", \"status open\", \"# note\"]", []string{"macro[1].commands[1]", "macro[1].commands[2]"}},
		{"macro applies macro", people + "[[macro]]\nname = \"x\"\ncommands = [\"#macro refund\"]", []string{"macro[1].commands[0]"}},
		{"macro empty", people + "[[macro]]\nname = \"x\"", []string{"macro[1]"}},
		// "-" separator makes support-x@ a sub-address
		{"dash separator collision", "[threading]\ntoken_separator = \"-\"\n" + people + "[[mailbox]]\naddress = \"support-team@example.com\"", []string{"mailbox[1].address"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			if rest, ok := strings.CutPrefix(text, "+"); ok {
				text = rest + "\n" + people
			}
			got := keysOf(problems(t, text))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("problem keys = %q, want %q\n%v", got, tt.want, problems(t, text))
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	text := "smtp_listen = \"x\"\n[smtp]\nmax_mesage_bytes = \"1MiB\"\n[outbund]\nrelay = \"\"\n[threading]\nrelay = \"x:25\"\n" + people + "[[agent]]\nemail = \"c@example.com\"\nrole = \"agent\"\nalias = [\"x@example.com\"]\n"
	ps := problems(t, text)
	want := map[string]string{ // key → text the fix or message must contain
		"smtp_listen":           "",
		"smtp.max_mesage_bytes": "max_message_bytes",
		"outbund":               "outbound",
		"threading.relay":       "[outbound]",
		"agent[2].alias":        "aliases",
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(ps), len(want), ps)
	}
	for _, p := range ps {
		hint, ok := want[p.Key]
		if !ok {
			t.Errorf("unexpected problem %s", p)
			continue
		}
		if !strings.Contains(p.Msg+p.Fix, hint) {
			t.Errorf("%s: want a hint %q", p, hint)
		}
		if p.Line == 0 {
			t.Errorf("%s: no line", p)
		}
	}
}

func TestAllProblemsAtOnceWithLines(t *testing.T) {
	text := `data_dir = ""
[smtp]
max_message_bytes = "25XB"
max_recipients = "100"
read_timeout = "10 minutes"
data_timeout = 600
max_line_length = 80
[outbound]
starttls = "yes"
tls_insecure_skip_verify = "no"
[[mailbox]]
address = "support@example.com"
group = "nobody"
[[agent]]
email = "a@example.com"
role = "agent"
[[agent]]
email = "b@example.com"
role = 5
groups = "support"
[[agent]]
role = "Admin"
`
	ps := problems(t, text)
	want := map[string]int{
		"data_dir":                          1,
		"smtp.max_message_bytes":            3,
		"smtp.max_recipients":               4,
		"smtp.read_timeout":                 5,
		"smtp.data_timeout":                 6,
		"smtp.max_line_length":              7,
		"outbound.starttls":                 9,
		"outbound.tls_insecure_skip_verify": 10,
		"mailbox[0].group":                  13,
		"agent[1].role":                     19,
		"agent[1].groups":                   20,
		"agent[2].email":                    21, // missing: the line of its [[agent]]
		"agent[2].role":                     22,
	}
	got := map[string]int{}
	for _, p := range ps {
		got[p.Key] = p.Line
	}
	for k, line := range want {
		if l, ok := got[k]; !ok {
			t.Errorf("no problem for %s", k)
		} else if l != line {
			t.Errorf("%s: line %d, want %d", k, l, line)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), (&Errors{ps}).Error())
	}
	// Type errors are not reported a second time by Validate.
	for _, p := range ps {
		if p.Key == "agent[1].role" && !strings.Contains(p.Msg, "expected a string") {
			t.Errorf("agent[1].role: %s", p)
		}
	}
}

func TestSyntaxErrorNamesLineAndColumn(t *testing.T) {
	text := "data_dir = \"./data\"\n[smtp]\nlisten = \"127.0.0.1:2525\nmax_recipients = 5\n"
	c, err := Parse(text)
	if c != nil {
		t.Error("config returned for a syntax error")
	}
	var errs *Errors
	if !errors.As(err, &errs) || len(errs.List) != 1 {
		t.Fatalf("err = %v", err)
	}
	p := errs.List[0]
	if p.Line != 3 || p.Col == 0 {
		t.Errorf("position = %d:%d, want line 3", p.Line, p.Col)
	}
	if s := p.String(); !strings.HasPrefix(s, "line 3, column ") || !strings.Contains(s, "syntax error") {
		t.Errorf("String() = %q", s)
	}
	path := filepath.Join(t.TempDir(), "helpdesk.toml")
	os.WriteFile(path, []byte(text), 0o600)
	report, ok := Check(path)
	if ok || !strings.HasPrefix(report, path+":3:") {
		t.Errorf("Check = %q, %v", report, ok)
	}
}

func TestCheckReport(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(fqdn+people), 0o600)
	report, ok := Check(good)
	if want := good + ": OK: 1 mailbox, 2 groups, 2 agents (1 agent, 1 light), 1 macro\nwarning: " + good + `: auth.staff[1]: "authres" never passes`; !ok || !strings.HasPrefix(report, want) {
		t.Errorf("Check = %q, %v; want %q...", report, ok, want)
	}
	os.WriteFile(good, []byte(fqdn+people+"\n[auth]\ntrusted_authserv_ids = [\"mx.example.com\"]\n"), 0o600)
	if report, ok := Check(good); !ok || strings.Contains(report, "auth.staff") {
		t.Errorf("Check with an authserv id = %q, %v", report, ok)
	}

	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[smtp]\nmax_mesage_bytes = 1\nlisten = \"x\"\n[[agent]]\nemail = \"a@example.com\"\nrole = \"boss\"\n"), 0o600)
	report, ok = Check(bad)
	lines := strings.Split(report, "\n")
	if ok || len(lines) != 4 {
		t.Fatalf("Check = %v,\n%s", ok, report)
	}
	wantPrefix := []string{
		bad + ":2: smtp.max_mesage_bytes: unknown key",
		bad + ":3: smtp.listen: ",
		bad + ":6: agent[0].role: \"boss\" is not a role (fix: use one of agent, light, admin)",
		bad + ": mailbox: no [[mailbox]]",
	}
	for i, w := range wantPrefix {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], w)
		}
	}

	report, ok = Check(filepath.Join(dir, "missing.toml"))
	if ok || !strings.Contains(report, "cannot read") || strings.Contains(report, "\n") {
		t.Errorf("Check(missing) = %q, %v", report, ok)
	}
}

func TestDefaultsAndListReplacement(t *testing.T) {
	c, err := Parse("[auth]\nstaff = [\"token\"]\n" + people)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Auth.Staff) != 1 || c.Auth.Staff[0] != "token" {
		t.Errorf("staff = %v: the file's list must replace the default", c.Auth.Staff)
	}
	if len(c.Auth.TrustedRelays) != 1 || len(c.Threading.Acknowledgements) == 0 {
		t.Errorf("defaults lost: relays %v acks %v", c.Auth.TrustedRelays, c.Threading.Acknowledgements)
	}
	if c.SMTP.MaxMessageBytes != 25<<20 || c.SMTP.DataTimeout.D().Minutes() != 10 {
		t.Errorf("defaults: %v %v", c.SMTP.MaxMessageBytes, c.SMTP.DataTimeout)
	}
	// Names default: mailbox to its address, agent to the email's local part.
	c, err = Parse("[[mailbox]]\naddress = \"help@example.com\"\n[[agent]]\nemail = \"zoe@example.com\"\nrole = \"admin\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Mailboxes[0].Name != "help@example.com" || c.Agents[0].Name != "zoe" {
		t.Errorf("default names: %q %q", c.Mailboxes[0].Name, c.Agents[0].Name)
	}
	if ps := Default().Validate(); len(ps) != 1 || ps[0].Key != "mailbox" {
		t.Errorf("Default() should lack only a mailbox: %v", ps)
	}
}

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDKIMKeys(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKCS8PrivateKey(edKey)
	rsa8DER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	t.Setenv("GODEBUG", "rsa1024min=0") // to make and parse a too-small key
	smallRSA, err := rsa.GenerateKey(rand.Reader, 512)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(edKey.Public())
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	os.WriteFile(garbage, []byte("not a key"), 0o600)

	tests := []struct {
		name string
		path string
		ok   bool
	}{
		{"rsa pkcs1", writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), true},
		{"rsa pkcs8", writePEM(t, "PRIVATE KEY", rsa8DER), true},
		{"ed25519", writePEM(t, "PRIVATE KEY", edDER), true},
		{"rsa 512 bits", writePEM(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(smallRSA)), false},
		{"public key", writePEM(t, "PUBLIC KEY", pubDER), false},
		{"not PEM", garbage, false},
		{"missing", filepath.Join(t.TempDir(), "none.pem"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := "[outbound]\ndkim_domain = \"example.com\"\ndkim_selector = \"hd\"\ndkim_private_key_file = '" + tt.path + "'\n" + people
			got := keysOf(problems(t, text))
			if tt.ok && len(got) != 0 || !tt.ok && strings.Join(got, " ") != "outbound.dkim_private_key_file" {
				t.Errorf("problems = %v, want ok=%v", got, tt.ok)
			}
			if _, err := LoadDKIMKey(tt.path); (err == nil) != tt.ok {
				t.Errorf("LoadDKIMKey err = %v", err)
			}
		})
	}
}

// fqdn is a hostname line that draws no warning (people has none: the
// default "localhost" does).
const fqdn = "hostname = \"helpdesk.example.com\"\n"

func TestWarnings(t *testing.T) {
	c, err := Parse(fqdn + people)
	if err != nil {
		t.Fatal(err)
	}
	w := notGroups(c.Warnings())
	if len(w) != 1 || w[0].Key != "auth.staff[1]" || !strings.Contains(w[0].Fix, "trusted_authserv_ids") {
		t.Fatalf("warnings = %+v", w)
	}
	c.Auth.TrustedAuthservIDs = []string{"mx.example.com"}
	if w := notGroups(c.Warnings()); len(w) != 0 {
		t.Errorf("warnings with an authserv id = %+v", w)
	}
	for host, warn := range map[string]bool{
		"localhost": true, "helpdesk": true, "localhost.localdomain": true, "mail.localdomain": true,
		"LOCALHOST.": true, "a.localhost": true,
		"helpdesk.example.com": false, "mx.example.com.": false, "helpdesk.test": false,
	} {
		c.Hostname = host
		w := notGroups(c.Warnings())
		if got := len(w) == 1 && w[0].Key == "hostname" && strings.Contains(w[0].Fix, "hostname = "); got != warn {
			t.Errorf("hostname %q: warnings %+v, want a hostname warning: %v", host, w, warn)
		}
	}
}

// "token" in auth.staff is valid, but check-config says what it trusts:
// possession of a notification mail, within staff_token_max_age.
func TestTokenWarning(t *testing.T) {
	for _, tt := range []struct{ conf, want string }{
		{"[auth]\nstaff = [\"token\"]\n", "within auth.staff_token_max_age (720h0m0s)"},
		{"[auth]\nstaff = [\"token\"]\nstaff_token_max_age = \"0s\"\n", "with no time limit"},
		{"[auth]\nstaff = [\"token\"]\nstaff_token_max_age = \"1h\"\n", "(1h0m0s)"},
	} {
		c, err := Parse(fqdn + tt.conf + people)
		if err != nil {
			t.Fatal(err)
		}
		w := notGroups(c.Warnings())
		if len(w) != 1 || w[0].Key != "auth.staff[0]" || !strings.Contains(w[0].Msg, "possession of a notification mail sent to that staff member") || !strings.Contains(w[0].Msg, tt.want) {
			t.Errorf("%q: warnings = %+v, want one naming %q", tt.conf, w, tt.want)
		}
	}
}

// notGroups drops the warnings about groups without agents (people's
// billing group has none), for tests about other warnings.
func notGroups(w []Problem) []Problem {
	var out []Problem
	for _, p := range w {
		if !strings.HasPrefix(p.Key, "group[") {
			out = append(out, p)
		}
	}
	return out
}

// A group with no agent, or a mailbox with no group, draws a warning: its
// tickets would otherwise reach nobody (every agent is told instead).
func TestGroupWithoutAgentsWarning(t *testing.T) {
	c, err := Parse(fqdn + people)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, p := range c.Warnings() {
		keys = append(keys, p.Key)
	}
	if !slices.Contains(keys, "group[1]") || slices.Contains(keys, "group[0]") {
		t.Errorf("warnings %v: want group[1] (billing, no agent) and not group[0]", keys)
	}
	c.Mailboxes[0].Group = ""
	keys = keys[:0]
	for _, p := range c.Warnings() {
		keys = append(keys, p.Key)
	}
	if !slices.Contains(keys, "mailbox[0].group") {
		t.Errorf("warnings %v: want mailbox[0].group for a mailbox without a group", keys)
	}
}
