package bench

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DaemonConfig is the helpdesk.toml of a bench daemon: one mailbox, one
// group that assigns new tickets round-robin to two agents (so a new
// ticket causes an acknowledgement and one staff notification), staff
// authenticated by reply token (auth.staff = ["token"]: an agent answers
// the notification's reply address), outbound mail relayed to the bench's
// sink, DMARC lookups answered NXDOMAIN by the bench's DNS server, and the
// default limits except the per-IP connection cap (every bench session
// comes from 127.0.0.1) and the total acknowledgement cap (a bench is a
// flood of new tickets by design; at the default 200 an hour the daemon
// would stop acknowledging, and the mix would lose the reply tokens it
// answers). dkimKey, when set, turns outbound DKIM signing on.
func DaemonConfig(dataDir, relay, resolver, dkimKey string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `data_dir = %q
hostname = "helpdesk.bench"

[smtp]
listen = "127.0.0.1:0"
max_connections_per_ip = 1000
max_connections = 1000

[http]
listen = "127.0.0.1:0"

[outbound]
relay = %q
starttls = "none"
retry_initial = "1s"
retry_max = "10s"
`, dataDir, relay)
	if dkimKey != "" {
		fmt.Fprintf(&b, "dkim_domain = \"bench.example\"\ndkim_selector = \"bench\"\ndkim_private_key_file = %q\n", dkimKey)
	}
	fmt.Fprintf(&b, `
[auth]
resolver = %q
dns_timeout = "2s"
staff = ["token"]

[tickets]
ack_per_hour = 1000000

[[mailbox]]
address = %q
name = "Bench Support"
group = "support"

[[group]]
name = "support"
auto_assign = true
`, resolver, benchMailbox)
	for _, a := range benchAgents {
		fmt.Fprintf(&b, "\n[[agent]]\nemail = %q\nname = %q\nrole = \"agent\"\ngroups = [\"support\"]\n", a.Email, a.Name)
	}
	return b.String()
}

// writeDKIMKey writes a 2048-bit RSA key (the common DKIM key) as PKCS#8.
func writeDKIMKey(dir string) (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "dkim.pem")
	return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}
