package acceptance

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// The fixture's mails (schema_fixture_gen_test.go writes them with an old
// binary; schema_test.go checks what the current one reads).

// fixtureSMTP keeps the looping mail (about 300 KiB) over the spool
// threshold, so its raw message is a blob file.
const fixtureSMTP = `spool_threshold = "64KiB"`

// fixtureLong is ticket 1's text: over 1 KiB, so raw message and comment
// record are packed.
var fixtureLong = "Please issue a certificate for www.e-fun.example.\n\n" +
	strings.Repeat("The old certificate expires on Friday and the shop must stay up over the weekend.\n", 20)

// fixtureCSR is ticket 1's attachment.
const fixtureCSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBfake0123456789\n-----END CERTIFICATE REQUEST-----\n"

// fixtureBlob is the looping mail's attachment, byte for byte.
func fixtureBlob() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 300<<10; i++ {
		b.WriteString("2026-12-01T00:00:00Z web1 nginx: GET /index.html 200 ")
		b.WriteString(strings.Repeat("x", i%37))
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// fixtureLoop is Ann's mail with the logs that passed through 60 relays:
// quarantined as a loop.
func fixtureLoop() []byte {
	var hops []string
	for i := 0; i < 60; i++ {
		hops = append(hops, fmt.Sprintf("Received: from relay%d.e-fun.example by relay%d.e-fun.example; Mon, 30 Nov 2026 10:00:%02d +0000", i, i+1, i))
	}
	return testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{"support@example.com"}, MessageID: "ann-logs@e-fun.example",
		Subject: "Logs attached", Body: "Here are the server logs.\n", Headers: hops,
		Files: []testkit.File{{Name: "server.log", ContentType: "text/plain", Data: fixtureBlob()}}}.Build()
}

// shortRaw replaces the "raw" member of a `quarantine show --json` output
// by its length and SHA-256, so the fixture stays small and is still
// compared byte for byte.
func shortRaw(t testing.TB, out string) string {
	t.Helper()
	var v map[string]any
	if json.Unmarshal([]byte(out), &v) != nil || v["raw"] == nil {
		return out
	}
	raw, _ := v["raw"].(string)
	v["raw"] = fmt.Sprintf("%d bytes, sha256 %x", len(raw), sha256.Sum256([]byte(raw)))
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
