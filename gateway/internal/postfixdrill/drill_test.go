//go:build postfixdrill

package postfixdrill

// What the drill does, in order (each step fails the test with what it
// saw: the Postfix log, helpdesk's log, the queue):
//
//  1. reads scripts/deploy/GUIDE.md's drilled blocks; the only changes made
//     to them are the Replacer in newDrill (paths under a temporary
//     directory, loopback ports chosen now, mail.example.com -> a sink);
//  2. runs the "install" block with sh (user helpdesk, directories, modes,
//     the DKIM key), writes helpdesk.toml, main.cf, master.cf, transport,
//     relay_recipients, opendkim.conf and opendmarc.conf from the blocks
//     (main.cf and the milter configs get a few drill-only lines first:
//     queue and pid files in the temporary directory, loopback only, and
//     where mail outside example.com goes), publishes the guide's DNS TXT
//     records, the record `helpdesk dkim-record` prints and the staff
//     server's DKIM key on the test DNS server;
//  3. starts OpenDKIM, OpenDMARC, helpdesk (as the helpdesk user) and
//     Postfix (`postfix -c DIR start`);
//  4. sends, with swaks from 127.0.0.2 (an outside client) to Postfix:
//     a customer mail (ticket, acknowledgement DKIM-signed by helpdesk and
//     verifying against the published record, the staff notification at
//     the staff's mail server), a staff reply signed by the staff's server
//     (commands applied, the customer gets the answer), a mail claiming to
//     be staff with a forged Authentication-Results (quarantined; the
//     forged header was removed before helpdesk stored the mail);
//  5. switches transport to the guide's pipe block (postmap, postfix
//     reload) and sends a customer mail and a signed staff mail through
//     `helpdesk inject`, then a customer whose address bounces: Postfix's
//     bounce to support+<token>@ comes back through the pipe with the null
//     sender and is recorded on the ticket;
//  6. gives the binary the capability with the guide's setcap line and
//     starts it as the helpdesk user on port 25 (127.0.0.1:25) with the
//     guide's port-25 settings; a mail sent there is stored.

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"helpdesk/gateway/internal/dnstest"
	"helpdesk/gateway/internal/testkit"
)

// syncBuf collects a child's output while the test reads it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type drill struct {
	t                             *testing.T
	root, pf, hd, data, bin, conf string
	hport, pport                  int
	sub                           *strings.Replacer
	blocks                        map[string]string
	dns                           *dnstest.Server
	world, staff                  *testkit.Sink
	uid, gid                      int
	hlog                          *syncBuf
	staffKey                      crypto.Signer
}

// guideBlocks returns the fenced blocks of the guide that follow a
// "<!-- drill: NAME -->" line, by NAME.
func guideBlocks(t *testing.T, path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the guide: %v", err)
	}
	re := regexp.MustCompile("(?s)<!-- drill: ([a-z0-9._-]+) -->\n```[a-z]*\n(.*?)```\n")
	out := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	for _, need := range []string{"install", "helpdesk.toml", "main.cf", "master.cf", "transport", "transport-pipe", "relay_recipients", "opendkim.conf", "opendmarc.conf", "dns", "port25.toml", "setcap"} {
		if out[need] == "" {
			t.Fatalf("the guide has no drilled block %q", need)
		}
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (d *drill) run(name string, args ...string) string {
	d.t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (d *drill) write(path, text string, mode os.FileMode) {
	d.t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		d.t.Fatal(err)
	}
}

// cli runs the helpdesk CLI as the helpdesk user, as the guide says to.
func (d *drill) cli(args ...string) (string, error) {
	cmd := exec.Command(d.bin, append(args, "-config", d.conf)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(d.uid), Gid: uint32(d.gid)}}
	cmd.Dir = d.data
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("helpdesk %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (d *drill) json(v any, args ...string) {
	d.t.Helper()
	out, err := d.cli(append(args, "--json")...)
	if err != nil {
		d.t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		d.t.Fatalf("helpdesk %v --json: %v\n%s", args, err, out)
	}
}

// eventually polls cond for up to 90 s (Postfix's queue manager and
// retries take seconds); on timeout it fails with what the MTA and
// helpdesk said.
func (d *drill) eventually(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			q, _ := exec.Command("postqueue", "-c", d.pf, "-p").CombinedOutput()
			plog, _ := os.ReadFile(filepath.Join(d.root, "postfix.log"))
			d.t.Fatalf("waited 90s for %s\npostqueue -p:\n%s\npostfix log:\n%s\nhelpdesk log:\n%s", what, q, plog, d.hlog.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type ticket struct {
	ID        int    `json:"id"`
	Subject   string `json:"subject"`
	Status    string `json:"status"`
	Priority  string `json:"priority"`
	Requester string `json:"requester"`
	Comments  []struct {
		Kind   string `json:"kind"`
		Author string `json:"author"`
		Text   string `json:"text"`
	} `json:"comments"`
}

func (d *drill) tickets() []ticket {
	var ts []ticket
	d.json(&ts, "tickets")
	return ts
}

func (d *drill) show(n int) ticket {
	var tk ticket
	d.json(&tk, "show", strconv.Itoa(n))
	return tk
}

// ticketBySubject waits for a ticket with that subject and returns its number.
func (d *drill) ticketBySubject(subject string) int {
	d.t.Helper()
	n := 0
	d.eventually("a ticket "+strconv.Quote(subject), func() bool {
		for _, tk := range d.tickets() {
			if tk.Subject == subject {
				n = tk.ID
				return true
			}
		}
		return false
	})
	return n
}

// swaks sends a mail from an outside client (127.0.0.2) to Postfix.
func (d *drill) swaks(from, to string, raw []byte) {
	d.t.Helper()
	f := filepath.Join(d.root, "msg.eml")
	d.write(f, string(raw), 0o644)
	d.run("swaks", "--server", "127.0.0.1", "--port", strconv.Itoa(d.pport), "--local-interface", "127.0.0.2",
		"--helo", "client.e-fun.example", "--from", from, "--to", to, "--data", "@"+f, "--silent", "2")
}

// mailTo waits until sink holds a mail to addr whose subject contains sub.
func (d *drill) mailTo(sink *testkit.Sink, addr, sub string) *testkit.Received {
	d.t.Helper()
	var got *testkit.Received
	d.eventually("a mail to "+addr+" about "+strconv.Quote(sub), func() bool {
		for _, m := range sink.To(addr) {
			if strings.Contains(m.Header("Subject"), sub) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

func (d *drill) signStaff(raw []byte) []byte {
	d.t.Helper()
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: "example.com", Selector: "mail", Signer: d.staffKey,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed}); err != nil {
		d.t.Fatal(err)
	}
	return out.Bytes()
}

func TestPostfixDrill(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the Postfix drill runs as root (scripts/postfix-drill)")
	}
	for _, p := range []string{"postfix", "postmap", "opendkim", "opendmarc", "swaks", "openssl"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (scripts/postfix-drill installs it)", p)
		}
	}
	if rc, _ := os.ReadFile("/etc/resolv.conf"); !bytes.Contains(rc, []byte("nameserver 127.0.0.1")) {
		t.Skip("/etc/resolv.conf must name 127.0.0.1 (scripts/postfix-drill runs the drill in a mount namespace where it does)")
	}
	root, err := os.MkdirTemp("", "postfix-drill-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(root)
		} else {
			t.Logf("drill files kept in %s", root)
		}
	})
	os.Chmod(root, 0o755) // the helpdesk and postfix users traverse it
	d := &drill{t: t, root: root, pf: filepath.Join(root, "postfix"), hd: filepath.Join(root, "etc-helpdesk"),
		data: filepath.Join(root, "var-lib-helpdesk"), bin: filepath.Join(root, "bin", "helpdesk"), hlog: &syncBuf{}}
	d.conf = filepath.Join(d.hd, "helpdesk.toml")
	d.blocks = guideBlocks(t, "../../../scripts/deploy/GUIDE.md")
	dkimPort, dmarcPort := freePort(t), freePort(t)
	d.hport, d.pport = freePort(t), freePort(t)

	// DNS on 127.0.0.1:53, what /etc/resolv.conf names here.
	d.dns, err = dnstest.NewAt("127.0.0.1:53")
	if err != nil {
		t.Skipf("cannot run the test DNS server on 127.0.0.1:53 (%v): the drill needs that port free", err)
	}
	t.Cleanup(d.dns.Close)
	d.world, d.staff = testkit.StartSink(t), testkit.StartSink(t)
	for _, dir := range []string{d.pf, filepath.Join(root, "bin"), filepath.Join(root, "src")} {
		os.MkdirAll(dir, 0o755)
	}
	// The only changes made to the guide's blocks.
	d.sub = strings.NewReplacer(
		"[127.0.0.1]:2525", fmt.Sprintf("[127.0.0.1]:%d", d.hport),
		"127.0.0.1:2525", fmt.Sprintf("127.0.0.1:%d", d.hport),
		`"127.0.0.1:25"`, fmt.Sprintf(`"127.0.0.1:%d"`, d.pport),
		"8891", strconv.Itoa(dkimPort),
		"8893", strconv.Itoa(dmarcPort),
		"/etc/postfix/", d.pf+"/",
		"/etc/helpdesk", d.hd,
		"/var/lib/helpdesk", d.data,
		"/usr/local/bin/helpdesk", d.bin,
		"[mail.example.com]", "[127.0.0.1]:"+strings.Split(d.staff.Addr, ":")[1],
	)
	block := func(name string) string { return d.sub.Replace(d.blocks[name]) }

	// helpdesk: build, then the guide's install block.
	src := filepath.Join(root, "src")
	if prebuilt := os.Getenv("HELPDESK_DRILL_BIN"); prebuilt != "" { // built outside the namespace, which has no DNS for the module proxy
		b, err := os.ReadFile(prebuilt)
		if err != nil {
			t.Fatal(err)
		}
		d.write(filepath.Join(src, "helpdesk"), string(b), 0o755)
	} else {
		build := exec.Command("go", "build", "-o", filepath.Join(src, "helpdesk"), "helpdesk/cmd/helpdesk")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building helpdesk: %v\n%s", err, out)
		}
	}
	// [http] on a free port: the guide keeps the default 127.0.0.1:2526.
	d.write(filepath.Join(src, "helpdesk.toml"), block("helpdesk.toml")+"\n[http]\nlisten = \"127.0.0.1:0\"\n", 0o644)
	install := exec.Command("sh", "-ec", block("install"))
	install.Dir = src
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("the guide's install block: %v\n%s", err, out)
	}
	u, err := user.Lookup("helpdesk")
	if err != nil {
		t.Fatal(err)
	}
	d.uid, _ = strconv.Atoi(u.Uid)
	d.gid, _ = strconv.Atoi(u.Gid)
	if out, err := d.cli("check-config"); err != nil {
		t.Fatalf("check-config: %v\n%s", err, out)
	}

	// DNS: the guide's TXT records, helpdesk's DKIM record as printed,
	// the staff server's key.
	txt := regexp.MustCompile(`^(\S+)\.\s+TXT\s+"(.*)"$`)
	for _, l := range strings.Split(d.blocks["dns"], "\n") {
		if m := txt.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			d.dns.SetTXT(m[1], m[2])
		}
	}
	var rec struct{ Name, Value string }
	d.json(&rec, "dkim-record")
	d.dns.SetTXT(rec.Name, rec.Value)
	var staffTXT string
	d.staffKey, staffTXT = dnstest.DKIMKeyRSA(t)
	d.dns.SetTXT("mail._domainkey.example.com", staffTXT)

	// OpenDKIM and OpenDMARC: drill-only lines (pid files, foreground
	// logging), then the guide's.
	dkimConf := filepath.Join(root, "opendkim.conf")
	d.write(dkimConf, "PidFile "+filepath.Join(root, "opendkim.pid")+"\nSyslog no\nUserID opendkim\n"+block("opendkim.conf"), 0o644)
	dmarcConf := filepath.Join(root, "opendmarc.conf")
	d.write(dmarcConf, "PidFile "+filepath.Join(root, "opendmarc.pid")+"\nSyslog no\nUserID opendmarc\nPublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat\n"+block("opendmarc.conf"), 0o644)
	d.daemon(t, "opendkim", "opendkim", "-f", "-x", dkimConf)
	d.daemon(t, "opendmarc", "opendmarc", "-f", "-c", dmarcConf)
	waitListen(t, dkimPort)
	waitListen(t, dmarcPort)

	// helpdesk, as its user.
	hd := exec.Command(d.bin, "serve", "-config", d.conf)
	hd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(d.uid), Gid: uint32(d.gid)}}
	hd.Dir, hd.Stdout, hd.Stderr = d.data, d.hlog, d.hlog
	if err := hd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hd.Process.Signal(syscall.SIGTERM); hd.Wait() })
	waitListen(t, d.hport)
	if st, err := os.Stat(filepath.Join(d.data, "helpdesk.sock")); err != nil || st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != uint32(d.uid) {
		t.Errorf("control socket: %v %v, want mode 0600 owned by helpdesk", err, st)
	}

	// Postfix: a private instance; drill-only lines first, then the guide's.
	d.postfix(t, block("main.cf"), block("master.cf"))
	d.postmap(t, "transport", block("transport"))
	d.postmap(t, "relay_recipients", block("relay_recipients"))
	d.run("postfix", "-c", d.pf, "check")
	d.run("postfix", "-c", d.pf, "start")
	t.Cleanup(func() { exec.Command("postfix", "-c", d.pf, "stop").Run() })
	waitListen(t, d.pport)

	// The steps share one Postfix and one helpdesk, so they run in order
	// and the first failure stops the drill.
	d.customer(t)
	d.staffReply(t)
	d.forged(t)
	// The pipe route, as the guide's alternative transport line.
	d.postmap(t, "transport", block("transport-pipe"))
	d.run("postfix", "-c", d.pf, "reload")
	d.pipe(t)
	d.bounce(t)
	d.port25(t)
	if t.Failed() {
		plog, _ := os.ReadFile(filepath.Join(root, "postfix.log"))
		t.Logf("postfix log:\n%s\nhelpdesk log:\n%s", plog, d.hlog.String())
	}
}

func waitListen(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on 127.0.0.1:%d after 30s", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// daemon starts a milter in the foreground; it is stopped at cleanup.
func (d *drill) daemon(t *testing.T, name string, args ...string) {
	var log bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s said:\n%s", name, log.String())
		}
	})
}

func (d *drill) postfix(t *testing.T, mainCF, masterCF string) {
	base := fmt.Sprintf(`# drill only: a private instance on loopback
compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
maillog_file_prefixes = %[1]s
maillog_file = %[1]s/postfix.log
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
smtputf8_enable = no
# drill only: mail outside example.com goes to the customers' world (a sink)
default_transport = smtp:[127.0.0.1]:%[2]s
# drill only: retry soon
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
# the guide's main.cf block
`, d.root, strings.Split(d.world.Addr, ":")[1])
	d.write(filepath.Join(d.pf, "main.cf"), base+mainCF, 0o644)
	// postfix check creates the rest (and sets owners) once these exist.
	os.MkdirAll(filepath.Join(d.root, "queue"), 0o755)
	os.MkdirAll(filepath.Join(d.root, "data"), 0o700)
	if pu, err := user.Lookup("postfix"); err == nil {
		uid, _ := strconv.Atoi(pu.Uid)
		gid, _ := strconv.Atoi(pu.Gid)
		os.Chown(filepath.Join(d.root, "data"), uid, gid)
	}
	dist, err := os.ReadFile("/usr/share/postfix/master.cf.dist")
	if err != nil {
		t.Fatal(err)
	}
	var mc strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(dist))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "smtp      inet") {
			l = fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd", d.pport)
		}
		mc.WriteString(l + "\n")
	}
	mc.WriteString("# the guide's master.cf block\n" + masterCF)
	d.write(filepath.Join(d.pf, "master.cf"), mc.String(), 0o644)
}

func (d *drill) postmap(t *testing.T, name, text string) {
	p := filepath.Join(d.pf, name)
	d.write(p, text, 0o644)
	d.run("postmap", "-c", d.pf, "hash:"+p)
}

func (d *drill) customer(t *testing.T) {
	raw := testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"}, Subject: "Need a new SSL certificate",
		Body: "Please issue a certificate for www.e-fun.example.\n"}.Build()
	d.swaks("ken@e-fun.example", "support@example.com", raw)
	n := d.ticketBySubject("Need a new SSL certificate")
	ack := d.mailTo(d.world, "ken@e-fun.example", fmt.Sprintf("[#%d]", n))
	// Signed by helpdesk with the key whose record dkim-record printed.
	vs, err := dkim.Verify(bytes.NewReader(ack.Raw))
	if err != nil || len(vs) == 0 || vs[0].Err != nil || vs[0].Domain != "example.com" {
		t.Errorf("the acknowledgement's DKIM signature does not verify against the published record: %v %+v", err, vs)
	}
	if rp := ack.From; !strings.HasPrefix(rp, "support+") || !strings.HasSuffix(rp, "@example.com") {
		t.Errorf("envelope sender of the acknowledgement %q, want support+<token>@example.com", rp)
	}
	// Staff share the domain: the notification went to the staff's server.
	d.mailTo(d.staff, "victoria@example.com", "Need a new SSL certificate")
	t.Logf("ticket %d opened; acknowledgement from %s verified (%s); notification at the staff's mail server", n, ack.From, vs[0].Domain)
}

func (d *drill) staffReply(t *testing.T) {
	n := d.ticketBySubject("Need a new SSL certificate")
	note := d.mailTo(d.staff, "victoria@example.com", "Need a new SSL certificate")
	to := strings.Trim(strings.TrimSpace(note.Header("Reply-To")), "<>")
	raw := testkit.Mail{From: "Victoria <victoria@example.com>", To: []string{to}, Subject: "Re: " + note.Header("Subject"),
		InReplyTo: strings.Trim(note.Header("Message-Id"), "<> "), Body: "#status pending\nHello Ken, we are on it.\n"}.Build()
	d.swaks("victoria@example.com", to, d.signStaff(raw))
	d.eventually("ticket pending after the staff reply", func() bool { return d.show(n).Status == "pending" })
	d.eventually("Ken's copy of the answer", func() bool {
		for _, m := range d.world.To("ken@e-fun.example") {
			if strings.Contains(m.Env.Text, "we are on it") {
				return true
			}
		}
		return false
	})
	t.Logf("signed staff reply to %s applied (status pending), Ken got the answer", to)
}

func (d *drill) forged(t *testing.T) {
	n := d.ticketBySubject("Need a new SSL certificate")
	forged := "mx.example.com; dkim=pass header.d=example.com header.s=forged; dmarc=pass header.from=example.com"
	raw := testkit.Mail{From: "Victoria <victoria@example.com>", To: []string{"support@example.com"}, Subject: "Close it",
		Headers: []string{"Authentication-Results: " + forged},
		Body:    fmt.Sprintf("#ticket %d\n#status closed\n", n)}.Build()
	d.swaks("victoria@example.com", "support@example.com", raw)
	var q []struct {
		ID     int    `json:"id"`
		Reason string `json:"reason"`
	}
	d.eventually("the forged staff mail in quarantine", func() bool {
		d.json(&q, "quarantine", "list")
		return len(q) == 1
	})
	if q[0].Reason != "auth" {
		t.Errorf("quarantine reason %q, want auth", q[0].Reason)
	}
	var rec struct {
		Raw string `json:"raw"`
	}
	d.json(&rec, "quarantine", "show", strconv.Itoa(q[0].ID))
	if strings.Contains(rec.Raw, "header.s=forged") {
		t.Errorf("the forged Authentication-Results reached helpdesk (OpenDKIM's RemoveARAll should drop it):\n%s", rec.Raw)
	}
	if st := d.show(n).Status; st != "pending" {
		t.Errorf("ticket %d is %s after the forged mail", n, st)
	}
	t.Logf("forged staff mail quarantined (reason %s); the forged header was removed before helpdesk", q[0].Reason)
}

func (d *drill) pipe(t *testing.T) {
	raw := testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"}, Subject: "Through the pipe",
		Body: "Sent while Postfix delivers with helpdesk inject.\n"}.Build()
	d.swaks("ann@e-fun.example", "support@example.com", raw)
	n := d.ticketBySubject("Through the pipe")
	d.mailTo(d.world, "ann@e-fun.example", fmt.Sprintf("[#%d]", n))
	if !strings.Contains(d.hlog.String(), `"via":"inject"`) && !strings.Contains(d.hlog.String(), `"via":"control"`) {
		t.Logf("note: helpdesk's log does not say the mail came by inject")
	}
	staff := testkit.Mail{From: "Victoria <victoria@example.com>", To: []string{"support@example.com"}, Subject: "about the pipe ticket",
		Body: fmt.Sprintf("#ticket %d\n#priority high\n", n)}.Build()
	d.swaks("victoria@example.com", "support@example.com", d.signStaff(staff))
	d.eventually("priority high through the pipe", func() bool { return d.show(n).Priority == "high" })
	t.Logf("ticket %d opened through helpdesk-pipe, acknowledged; a signed staff mail through the pipe applied #priority high", n)
}

func (d *drill) bounce(t *testing.T) {
	d.world.SetRefuse("nobody@e-fun.example", true)
	raw := testkit.Mail{From: "Nobody <nobody@e-fun.example>", To: []string{"support@example.com"}, Subject: "I will bounce",
		Body: "My mailbox does not exist.\n"}.Build()
	d.swaks("nobody@e-fun.example", "support@example.com", raw)
	n := d.ticketBySubject("I will bounce")
	d.eventually("the bounce recorded on the ticket", func() bool {
		for _, c := range d.show(n).Comments {
			if c.Kind == "delivery" {
				return true
			}
		}
		return false
	})
	t.Logf("Postfix's bounce of the acknowledgement to nobody@ came back to support+<token>@ through the pipe and is on ticket %d", n)
}

// port25 runs the guide's setcap line and a second daemon, as the
// helpdesk user, on 127.0.0.1:25 (the guide's ":25", on loopback only).
func (d *drill) port25(t *testing.T) {
	if c, err := net.DialTimeout("tcp4", "127.0.0.1:25", time.Second); err == nil {
		c.Close()
		t.Logf("port 25: SKIPPED, something listens on 127.0.0.1:25 already")
		return
	}
	d.run("sh", "-ec", d.sub.Replace(d.blocks["setcap"]))
	dir := filepath.Join(d.root, "p25")
	os.MkdirAll(dir, 0o750)
	os.Chown(dir, d.uid, d.gid)
	conf := filepath.Join(d.root, "p25.toml")
	text := fmt.Sprintf("data_dir = %q\n", dir) + strings.Replace(d.blocks["port25.toml"], `":25"`, `"127.0.0.1:25"`, 1) +
		"\n[http]\nlisten = \"127.0.0.1:0\"\n\n[[mailbox]]\naddress = \"support@help.example.com\"\n"
	d.write(conf, text, 0o644)
	var log syncBuf
	cmd := exec.Command(d.bin, "serve", "-config", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(d.uid), Gid: uint32(d.gid)}}
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp4", "127.0.0.1:25", time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helpdesk as the helpdesk user does not listen on 127.0.0.1:25 after 30s:\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	raw := testkit.Mail{From: "ken@e-fun.example", To: []string{"support@help.example.com"}, Subject: "Direct on port 25", Body: "Hello.\n"}.Build()
	f := filepath.Join(d.root, "p25.eml")
	d.write(f, string(raw), 0o644)
	d.run("swaks", "--server", "127.0.0.1", "--port", "25", "--local-interface", "127.0.0.2", "--from", "ken@e-fun.example",
		"--to", "support@help.example.com", "--data", "@"+f, "--silent", "2")
	t.Logf("port 25: the guide's setcap line let the helpdesk user bind 127.0.0.1:25; a mail sent there got 250")
}
