package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// The spine from the outside: a customer mail opens ticket 1, the customer
// gets an acknowledgement with the number and a reply token, the agent a
// notification; nobody else gets anything.
func TestCustomerMailOpensTicketAndAcknowledges(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Need a new SSL certificate", Body: "Please issue a certificate for www.e-fun.example.\n"})
	tk := e.Show(1)
	if tk.Requester != "ken@e-fun.example" || tk.Subject != "Need a new SSL certificate" {
		t.Fatalf("ticket 1: %+v", tk)
	}
	ack := e.Find("ken@e-fun.example", "[#1]")
	if !strings.HasPrefix(ReplyTo(ack), "support+") {
		t.Errorf("acknowledgement Reply-To %q has no reply token", ack.Header("Reply-To"))
	}
	if strings.Contains(string(ack.Raw), "certs.example") {
		t.Errorf("acknowledgement to the customer names a staff address:\n%s", ack.Raw)
	}
	if tk.Assignee != "" {
		e.Find(tk.Assignee, "Need a new SSL certificate")
	}
	for _, m := range e.Sink.All() {
		for _, to := range m.To {
			if to != "ken@e-fun.example" && !strings.HasSuffix(to, "@certs.example") {
				t.Errorf("unexpected recipient %s", to)
			}
		}
	}
}
