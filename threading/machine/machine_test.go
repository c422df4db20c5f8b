package machine_test

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"helpdesk/threading"
	"helpdesk/threading/machine"
)

// mail parses a raw message written with "\n" line ends, sets the envelope
// sender and classifies it.
func mail(t *testing.T, envelope, raw string) *threading.Mail {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	m := threading.Parse(strings.NewReader(raw), threading.ParseOptions{})
	m.EnvelopeFrom = envelope
	machine.Classify(m)
	return m
}

// simple builds a one-part text mail from a person with extra headers.
func simple(from, subject, extra, body string) string {
	return "From: " + from + "\n" +
		"To: support@example.com\n" +
		"Subject: " + subject + "\n" +
		"Date: Mon, 2 Mar 2026 10:00:00 +0900\n" +
		"Message-ID: <person-1@client.example.net>\n" +
		extra +
		"MIME-Version: 1.0\n" +
		"Content-Type: text/plain; charset=utf-8\n" +
		"\n" + body + "\n"
}

const person = "Ken Lee <ken@e-fun.example>"
const personEnv = "ken@e-fun.example"

func TestHeaderRules(t *testing.T) {
	cases := []struct {
		name, envelope, from, subject, extra, body string
		want                                       threading.Class
		suppress                                   bool // SuppressAutoAnswer
	}{
		{"plain person", personEnv, person, "Need a new certificate", "", "Hello, please renew.", threading.ClassHuman, false},
		{"Auto-Submitted auto-replied", personEnv, person, "Re: Need a new certificate", "Auto-Submitted: auto-replied\n", "I am away.", threading.ClassAutoReply, true},
		{"Auto-Submitted auto-generated", personEnv, "Monitor <alerts@e-fun.example>", "Disk 90% full", "Auto-Submitted: auto-generated\n", "disk", threading.ClassAutoReply, true},
		{"Auto-Submitted auto-notified with comment", personEnv, person, "Notice", "Auto-Submitted: auto-notified (vacation)\n", "x", threading.ClassAutoReply, true},
		{"Auto-Submitted no", personEnv, person, "Question", "Auto-Submitted: no\n", "Hi", threading.ClassHuman, false},
		{"Auto-Submitted No with comment", personEnv, person, "Question", "Auto-Submitted: No (typed by a person)\n", "Hi", threading.ClassHuman, false},
		{"X-Autoreply", personEnv, person, "Re: invoice", "X-Autoreply: yes\n", "Thanks, we got it.", threading.ClassAutoReply, true},
		{"X-Autorespond", personEnv, person, "Re: invoice", "X-Autorespond: Thanks for writing\n", "Thanks.", threading.ClassAutoReply, true},
		{"X-Autoreply no", personEnv, person, "Re: invoice", "X-Autoreply: no\n", "Thanks, we got it.", threading.ClassHuman, false},
		{"X-Autorespond False", personEnv, person, "Re: invoice", "X-Autorespond: False\n", "Thanks.", threading.ClassHuman, false},
		{"X-Autoresponder 0", personEnv, person, "Re: invoice", "X-Autoresponder: 0\n", "Thanks.", threading.ClassHuman, false},
		{"X-Auto-Reply yes", personEnv, person, "Re: invoice", "X-Auto-Reply: yes\n", "Away.", threading.ClassAutoReply, true},
		{"Precedence auto_reply", personEnv, person, "Re: invoice", "Precedence: auto_reply\n", "Thanks.", threading.ClassAutoReply, true},
		{"X-Failed-Recipients", "", "Mail Delivery System <Mailer-Daemon@mx.example.org>", "Mail delivery failed: returning message to sender",
			"X-Failed-Recipients: gone@example.org\nAuto-Submitted: auto-replied\n",
			"This message was created automatically by mail delivery software.\n\n  gone@example.org\n    SMTP error from remote mail server after RCPT TO:<gone@example.org>:\n    550 5.1.1 User unknown\n",
			threading.ClassDeliveryStatus, true},
		// Non-rules: these mean only "send no automatic answer".
		{"Precedence bulk is human", personEnv, "News <news@shop.example>", "Our spring sale", "Precedence: bulk\n", "Sale!", threading.ClassHuman, true},
		{"Precedence junk is human", personEnv, person, "Hello", "Precedence: junk\n", "Hi", threading.ClassHuman, true},
		{"Precedence list is human", personEnv, person, "[users] how do I renew?", "Precedence: list\nList-Id: <users.lists.example>\n", "Question", threading.ClassHuman, true},
		{"X-Auto-Response-Suppress is human", personEnv, person, "Meeting notes", "X-Auto-Response-Suppress: All\n", "Notes attached.", threading.ClassHuman, true},
		{"Outlook person with both", personEnv, person, "RE: renewal", "X-Auto-Response-Suppress: DR, RN, NRN, OOF\nPrecedence: bulk\n", "Sounds good.", threading.ClassHuman, true},
		// Senders.
		{"null sender, no wording", "", person, "Re: renewal", "", "Thank you for your message.", threading.ClassAutoReply, true},
		{"null sender, bounce subject", "", "postmaster@mx.example.org", "Undeliverable: renewal", "", "Your message could not be delivered.", threading.ClassDeliveryStatus, true},
		{"MAILER-DAEMON From, non-null envelope", "MAILER-DAEMON@mx.example.org", "MAILER-DAEMON@mx.example.org", "failure notice", "", "Hi. This is the qmail-send program.", threading.ClassDeliveryStatus, true},
		{"postmaster person without bounce wording", "postmaster@isp.example", "Postmaster <postmaster@isp.example>", "Your SPF record", "", "Hello, your SPF record is missing our relay.", threading.ClassHuman, false},
		{"postmaster with bounce wording", "postmaster@isp.example", "postmaster@isp.example", "Delivery failure", "", "Delivery to the following recipient failed permanently:\n\n    gone@isp.example\n", threading.ClassDeliveryStatus, true},
		// Out-of-office subjects.
		{"Out of Office", personEnv, person, "Out of Office: renewal", "", "I am away until Monday.", threading.ClassAutoReply, true},
		{"Automatic reply", personEnv, person, "Automatic reply: renewal", "", "Away.", threading.ClassAutoReply, true},
		{"Autosvar", personEnv, person, "Autosvar: renewal", "", "Borta.", threading.ClassAutoReply, true},
		{"Abwesenheitsnotiz", personEnv, person, "Abwesenheitsnotiz: renewal", "", "Nicht da.", threading.ClassAutoReply, true},
		{"Réponse automatique", personEnv, person, "Réponse automatique : renewal", "", "Absent.", threading.ClassAutoReply, true},
		{"부재중", personEnv, person, "부재중: 인증서 갱신", "", "휴가 중입니다.", threading.ClassAutoReply, true},
		{"自動応答", personEnv, person, "自動応答: 更新", "", "不在です。", threading.ClassAutoReply, true},
		{"自动回复", personEnv, person, "自动回复：续订", "", "休假。", threading.ClassAutoReply, true},
		{"bracketed Auto-Reply", personEnv, person, "[Auto-Reply] renewal", "", "Away.", threading.ClassAutoReply, true},
		// A person's subject that merely mentions it stays human: the
		// marker counts only where responders put it, at the start.
		{"out of office mid-sentence", personEnv, person, "Question about the out of office policy", "", "Do you answer on holidays?", threading.ClassHuman, false},
		{"will be out of office", personEnv, person, "I will be out of office next week, please call Mia", "", "Mia covers.", threading.ClassHuman, false},
		{"reply to an out of office", personEnv, person, "Re: Out of Office: renewal", "", "When are you back?", threading.ClassHuman, false},
		{"vacation is not a marker", personEnv, person, "Vacation request form", "", "Where is it?", threading.ClassHuman, false},
		{"out of office hours", personEnv, person, "Out of office hours support request", "", "Do you answer at night?", threading.ClassHuman, false},
		{"automatic reply not working", personEnv, person, "Automatic reply not working in your app", "", "It never answers.", threading.ClassHuman, false},
		{"Auto as a word", personEnv, person, "Auto: claim 123", "", "My car claim.", threading.ClassHuman, false},
		{"Out of Office AutoReply", personEnv, person, "Out of Office AutoReply: renewal", "", "Away.", threading.ClassAutoReply, true},
		{"[부재중] brackets", personEnv, person, "[부재중] 인증서 갱신", "", "휴가", threading.ClassAutoReply, true},
		// A person using bounce words stays human.
		{"undeliverable in text", personEnv, person, "My mail to billing bounced", "",
			"Hi, my mail to billing@example.com was undeliverable: user unknown, 550 5.1.1. Could not be delivered, it said. Please help.",
			threading.ClassHuman, false},
		{"undeliverable subject from a person", personEnv, person, "Undeliverable email to your billing address", "",
			"The message I sent could not be delivered.", threading.ClassHuman, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mail(t, c.envelope, simple(c.from, c.subject, c.extra, c.body))
			if m.Class != c.want {
				t.Fatalf("class %q, want %q", m.Class, c.want)
			}
			if got := m.SuppressAutoAnswer(); got != c.suppress {
				t.Errorf("SuppressAutoAnswer %v, want %v", got, c.suppress)
			}
			isReport := c.want == threading.ClassDeliveryStatus || c.want == threading.ClassFeedbackReport
			if (m.DSN != nil) != isReport {
				t.Errorf("DSN %+v for class %s", m.DSN, m.Class)
			}
		})
	}
}

func TestXFailedRecipientsDSN(t *testing.T) {
	m := mail(t, "", simple("Mail Delivery System <Mailer-Daemon@mx.example.org>", "Mail delivery failed: returning message to sender",
		"X-Failed-Recipients: Gone@Example.org, other@example.org\nAuto-Submitted: auto-replied\n",
		"This message was created automatically by mail delivery software.\n\n"+
			"A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n"+
			"  gone@example.org\n    SMTP error from remote mail server after RCPT TO:<gone@example.org>:\n    550 5.1.1 <gone@example.org>: Recipient address rejected\n\n"+
			"------ This is a copy of the message, including all the headers. ------\n\n"+
			"Return-path: <support@example.com>\nReceived: from mx.example.com by mx.example.org\nMessage-ID: <out-42@helpdesk.example.com>\n"+
			"From: support@example.com\nTo: gone@example.org\nSubject: [#42] Your renewal\n\nHello\n"))
	want := &threading.DSN{Action: "failed", Status: "5.1.1", Recipients: []string{"gone@example.org", "other@example.org"},
		OriginalMessageID: "out-42@helpdesk.example.com",
		Diagnostic:        "550 5.1.1 <gone@example.org>: Recipient address rejected"}
	if m.Class != threading.ClassDeliveryStatus || !reflect.DeepEqual(m.DSN, want) {
		t.Fatalf("class %s DSN %+v\nwant %+v", m.Class, m.DSN, want)
	}
	if !m.DSN.Permanent() {
		t.Error("a failed DSN is permanent")
	}
}

const dsnRFC822 = `From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
To: support@example.com
Subject: Returned mail: see transcript for details
Date: Mon, 2 Mar 2026 10:00:00 +0900
Message-ID: <dsn-1@mx.example.org>
Auto-Submitted: auto-generated (failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="BOUND"

--BOUND
Content-Type: text/plain

The original message was received at Mon, 2 Mar 2026 09:59:00 +0900

   ----- The following addresses had permanent fatal errors -----
<gone@example.org>
    (reason: 550 5.1.1 <gone@example.org>... User unknown)

--BOUND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
Arrival-Date: Mon, 2 Mar 2026 09:59:00 +0900

Final-Recipient: RFC822; gone@example.org
Original-Recipient: rfc822;Gone@Example.org
Action: failed
Status: 5.1.1
Remote-MTA: DNS; mail.example.org
Diagnostic-Code: SMTP; 550 5.1.1 <gone@example.org>... User unknown
Last-Attempt-Date: Mon, 2 Mar 2026 10:00:00 +0900

Final-Recipient: RFC822; slow@example.org
Action: delayed
Status: 4.4.1
Diagnostic-Code: smtp; 421 4.4.1 try later

--BOUND
Content-Type: message/rfc822

Return-Path: <support@example.com>
Received: from helpdesk.example.com by mx.example.org; Mon, 2 Mar 2026 09:59:00 +0900
Message-ID:
 <out-42.abc@helpdesk.example.com>
From: Victoria <support@example.com>
To: gone@example.org, slow@example.org
Subject: [#42] Your renewal

Hello
--BOUND--
`

const dsnHeaders = `From: postmaster@mx.example.org
To: support+abc@example.com
Subject: Delivery Status Notification (Delay)
Message-ID: <dsn-2@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type="delivery-status"; boundary="b2"

--b2
Content-Type: text/plain; charset=us-ascii

This is an automatically generated Delivery Status Notification.
Delivery to the following recipients has been delayed.

--b2
Content-Type: message/delivery-status

Reporting-MTA: dns;mx.example.org

Original-Recipient: rfc822;slow@example.org
Action: delayed
Status: 4.4.7
Diagnostic-Code: X-Postfix; connect to mail.example.org: Connection timed out

--b2
Content-Type: text/rfc822-headers

Received: from helpdesk.example.com by mx.example.org
From: support@example.com
To: slow@example.org
Subject: [#43] Update
Message-Id: <out-43@helpdesk.example.com>

--b2--
`

func TestRFC3464DSN(t *testing.T) {
	cases := []struct {
		name, envelope, raw string
		want                *threading.DSN
		permanent           bool
	}{
		{"message/rfc822, two recipients, failed wins", "", dsnRFC822, &threading.DSN{
			Action: "failed", Status: "5.1.1", Recipients: []string{"gone@example.org", "slow@example.org"},
			OriginalMessageID: "out-42.abc@helpdesk.example.com", Diagnostic: "550 5.1.1 <gone@example.org>... User unknown",
		}, true},
		// Classified by structure alone, even with a non-null envelope.
		{"text/rfc822-headers, Original-Recipient only, delayed", "postmaster@mx.example.org", dsnHeaders, &threading.DSN{
			Action: "delayed", Status: "4.4.7", Recipients: []string{"slow@example.org"},
			OriginalMessageID: "out-43@helpdesk.example.com", Diagnostic: "connect to mail.example.org: Connection timed out",
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := mail(t, c.envelope, c.raw)
			if m.Class != threading.ClassDeliveryStatus {
				t.Fatalf("class %s", m.Class)
			}
			if !reflect.DeepEqual(m.DSN, c.want) {
				t.Fatalf("DSN %+v\nwant %+v", m.DSN, c.want)
			}
			if m.DSN.Permanent() != c.permanent {
				t.Errorf("Permanent %v", m.DSN.Permanent())
			}
			if !m.SuppressAutoAnswer() {
				t.Error("a DSN must never be answered")
			}
		})
	}
}

func TestDeliveredDSN(t *testing.T) {
	raw := strings.Replace(strings.Replace(dsnHeaders, "Action: delayed", "Action: delivered", 1), "Status: 4.4.7", "Status: 2.0.0", 1)
	m := mail(t, "", raw)
	if m.Class != threading.ClassDeliveryStatus || m.DSN.Action != "delivered" || m.DSN.Status != "2.0.0" || m.DSN.Permanent() {
		t.Fatalf("class %s DSN %+v", m.Class, m.DSN)
	}
}

const arfReport = `From: Abuse Desk <abuse@isp.example>
To: fbl@example.com
Subject: FW: [#44] Your renewal
Message-ID: <arf-1@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="part1"

--part1
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP
192.0.2.1 on Mon, 2 Mar 2026 10:00:00 +0900.

--part1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounce+x@Example.com>
Original-Rcpt-To: <Reader@isp.example>
Arrival-Date: Mon, 2 Mar 2026 10:00:00 +0900
Source-IP: 192.0.2.1
Reported-Domain: example.com

--part1
Content-Type: message/rfc822
Content-Disposition: inline

Received: from helpdesk.example.com by mx.isp.example
From: support@example.com
To: reader@isp.example
Subject: [#44] Your renewal
Message-ID: <out-44@helpdesk.example.com>

Hello
--part1--
`

func TestARF(t *testing.T) {
	// A null envelope sender does not turn a report into a bounce.
	for _, env := range []string{"abuse@isp.example", ""} {
		m := mail(t, env, arfReport)
		want := &threading.DSN{Recipients: []string{"reader@isp.example"}, OriginalMessageID: "out-44@helpdesk.example.com",
			Diagnostic: "feedback-type: abuse", FeedbackType: "abuse", OriginalMailFrom: "bounce+x@example.com"}
		if m.Class != threading.ClassFeedbackReport || !reflect.DeepEqual(m.DSN, want) {
			t.Fatalf("envelope %q: class %s DSN %+v\nwant %+v", env, m.Class, m.DSN, want)
		}
		if m.DSN.Permanent() {
			t.Error("a feedback report is not a permanent failure")
		}
	}
}

func TestReadReceiptIsAutoReply(t *testing.T) {
	raw := `From: Ken <ken@e-fun.example>
To: support@example.com
Subject: Read: [#45] Your renewal
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="r"

--r
Content-Type: text/plain

Your message was read on Monday.

--r
Content-Type: message/disposition-notification

Reporting-UA: client.e-fun.example; Mail
Final-Recipient: rfc822;ken@e-fun.example
Original-Message-ID: <out-45@helpdesk.example.com>
Disposition: manual-action/MDN-sent-manually; displayed

--r--
`
	m := mail(t, personEnv, raw)
	if m.Class != threading.ClassAutoReply || m.DSN != nil {
		t.Fatalf("class %s DSN %+v", m.Class, m.DSN)
	}
}

// A bounce without MIME structure (qmail): recipients and the returned
// message's Message-ID come from the text.
func TestTextBounce(t *testing.T) {
	raw := simple("MAILER-DAEMON@mx.example.org", "failure notice", "",
		"Hi. This is the qmail-send program at mx.example.org.\n"+
			"I'm afraid I wasn't able to deliver your message to the following addresses.\n"+
			"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"+
			"<gone@example.org>:\n"+
			"192.0.2.25 does not like recipient.\n"+
			"Remote host said: 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown\n"+
			"Giving up on 192.0.2.25.\n\n"+
			"--- Below this line is a copy of the message.\n\n"+
			"Return-Path: <support@example.com>\n"+
			"Received: (qmail 1 invoked by uid 0); 2 Mar 2026 01:00:00 -0000\n"+
			"From: support@example.com\n"+
			"To: gone@example.org\n"+
			"Message-ID: <out-46@helpdesk.example.com>\n"+
			"Subject: [#46] Your renewal\n\nHello\n")
	m := mail(t, "", raw)
	want := &threading.DSN{Action: "failed", Status: "5.1.1", Recipients: []string{"gone@example.org"},
		OriginalMessageID: "out-46@helpdesk.example.com",
		Diagnostic:        "Remote host said: 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown"}
	if m.Class != threading.ClassDeliveryStatus || !reflect.DeepEqual(m.DSN, want) {
		t.Fatalf("class %s DSN %+v\nwant %+v", m.Class, m.DSN, want)
	}
}

// A person who forwards a bounce with a question is asking the helpdesk
// something: human. The same forward with no words of their own is the
// bounce it carries (documented in forwardedBounce).
func TestForwardedBounce(t *testing.T) {
	quoted := "\n\nBegin forwarded message:\n\n" +
		"> From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>\n" +
		"> Subject: Returned mail: see transcript for details\n" +
		"> Message-Id: <bounce-9@mx.example.org>\n>\n" +
		">    ----- The following addresses had permanent fatal errors -----\n> <gone@example.org>\n>\n" +
		"> Reporting-MTA: dns; mx.example.org\n>\n" +
		"> Final-Recipient: RFC822; gone@example.org\n> Action: failed\n> Status: 5.1.1\n>\n" +
		"> Return-Path: <ken@e-fun.example>\n> Received: from client by mx.example.org\n" +
		"> Message-Id: <ken-7@e-fun.example>\n> From: ken@e-fun.example\n> To: gone@example.org\n"
	withNote := mail(t, personEnv, simple(person, "Fwd: Returned mail: see transcript for details", "",
		"Hi support, I got this when I wrote to your billing team. Which address should I use instead?"+quoted))
	if withNote.Class != threading.ClassHuman {
		t.Errorf("forward with a question: class %s, want human", withNote.Class)
	}
	bare := mail(t, personEnv, simple(person, "Fwd: Returned mail: see transcript for details", "", "FYI"+quoted))
	if bare.Class != threading.ClassDeliveryStatus {
		t.Fatalf("bare forward of a bounce: class %s, want delivery-status", bare.Class)
	}
	if got := bare.DSN; got.Status != "5.1.1" || got.OriginalMessageID != "ken-7@e-fun.example" ||
		!reflect.DeepEqual(got.Recipients, []string{"gone@example.org"}) {
		t.Errorf("DSN %+v", got)
	}
}

// A person forwarding a mail as an attachment (message/rfc822) is human:
// a returned-message part alone is not a report.
func TestAttachedMessageIsHuman(t *testing.T) {
	raw := `From: Ken <ken@e-fun.example>
To: support@example.com
Subject: original as attachment
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/plain

See the attached mail, it should not be considered a bounce.

--m
Content-Type: message/rfc822
Content-Disposition: attachment; filename=original.eml

Received: from a by b
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
Subject: Undeliverable: hello
Message-ID: <inner@mx.example.org>

Your message could not be delivered.
--m--
`
	m := mail(t, personEnv, raw)
	if m.Class != threading.ClassHuman || m.DSN != nil {
		t.Fatalf("class %s DSN %+v", m.Class, m.DSN)
	}
	if len(m.ReportParts) != 1 || m.ReportParts[0].ContentType != "message/rfc822" {
		t.Errorf("ReportParts %+v", m.ReportParts)
	}
}

// collectReportParts keeps the variants real reports use.
func TestReportPartVariants(t *testing.T) {
	raw := `From: MAILER-DAEMON@mx.example.org
To: support@example.com
Subject: Delivery Notification: Delivery has failed
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="v"

--v
Content-Type: message/delivery-status

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.0.0

--v
Content-Type: text/rfc822-header

From: support@example.com
Message-ID: <out-47@helpdesk.example.com>

--v--
`
	m := mail(t, "", raw)
	var types []string
	for _, p := range m.ReportParts {
		types = append(types, p.ContentType)
	}
	if !reflect.DeepEqual(types, []string{"message/delivery-status", "text/rfc822-header"}) {
		t.Fatalf("ReportParts %v", types)
	}
	if m.DSN == nil || m.DSN.OriginalMessageID != "out-47@helpdesk.example.com" {
		t.Fatalf("DSN %+v", m.DSN)
	}
}

func TestClassifyResets(t *testing.T) {
	m := mail(t, "", dsnRFC822)
	if m.DSN == nil {
		t.Fatal("no DSN")
	}
	// Reclassifying a human mail object clears an earlier verdict.
	h := mail(t, personEnv, simple(person, "Hello", "", "Hi"))
	h.Class, h.DSN = threading.ClassDeliveryStatus, m.DSN
	machine.Classify(h)
	if h.Class != threading.ClassHuman || h.DSN != nil {
		t.Fatalf("class %s DSN %+v", h.Class, h.DSN)
	}
}

// Two malformed shapes of a returned message that collectReportParts keeps
// as text/rfc822-headers: a part without MIME header of its own (its
// message header fields become the part header) and a text/plain
// attachment holding the message.
func TestMalformedReturnedMessage(t *testing.T) {
	headerless := `From: "Mail Deliver System" <MAILER-DAEMON@mx.example.org>
To: support@example.com
Subject: Returned Mail: User unknown
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x1"

--x1
Content-Type: text/plain

---The following addresses had delivery errors---

gone@example.org [User unknown]

--x1
Received: from helpdesk.example.com by mx.example.org
Return-Path: <support@example.com>
Message-Id: <out-48@helpdesk.example.com>
From: support@example.com
To: gone@example.org

Hello
--x1--
`
	attached := `From: mailer-daemon
To: support@example.com
Subject: There was an error sending your mail
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x6"

--x6
Content-Type: text/plain; charset=us-ascii

The following recipients returned permanent errors: gone@example.org.

--x6
Content-Type: text/plain; name="original.txt"
Content-Disposition: attachment; filename="original.txt"

Received: from helpdesk.example.com by mx.example.org
Message-ID: <out-49@helpdesk.example.com>
From: support@example.com
To: gone@example.org

Hello
--x6--
`
	for _, c := range []struct{ name, raw, id string }{
		{"headerless part", headerless, "out-48@helpdesk.example.com"},
		{"text/plain attachment", attached, "out-49@helpdesk.example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := mail(t, "", c.raw)
			if m.Class != threading.ClassDeliveryStatus {
				t.Fatalf("class %s", m.Class)
			}
			if m.DSN.OriginalMessageID != c.id || !reflect.DeepEqual(m.DSN.Recipients, []string{"gone@example.org"}) {
				t.Fatalf("DSN %+v", m.DSN)
			}
			var found bool
			for _, p := range m.ReportParts {
				found = found || p.ContentType == "text/rfc822-headers"
			}
			if !found {
				t.Errorf("no text/rfc822-headers part in %d report parts", len(m.ReportParts))
			}
		})
	}
	// An ordinary text attachment of a person's mail is not a message.
	h := mail(t, personEnv, `From: Ken <ken@e-fun.example>
To: support@example.com
Subject: log file
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="h"

--h
Content-Type: text/plain

The log is attached.

--h
Content-Type: text/plain; name="app.log"
Content-Disposition: attachment; filename="app.log"

Received: 12 requests
Message-ID: none
--h--
`)
	if h.Class != threading.ClassHuman || len(h.ReportParts) != 0 {
		t.Errorf("class %s, report parts %d", h.Class, len(h.ReportParts))
	}
}

// Classify must cope with whatever Parse returns, including an empty Mail.
func TestClassifyEmpty(t *testing.T) {
	m := &threading.Mail{EnvelopeFrom: personEnv}
	machine.Classify(m)
	if m.Class != threading.ClassHuman {
		t.Errorf("empty mail with a sender: %s", m.Class)
	}
	m = &threading.Mail{}
	machine.Classify(m)
	if m.Class != threading.ClassAutoReply {
		t.Errorf("empty mail from the null sender: %s", m.Class)
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{dsnRFC822, dsnHeaders, arfReport,
		simple(person, "Out of Office: x", "Auto-Submitted: auto-replied\n", "away"),
		simple("MAILER-DAEMON@x.example", "failure notice", "", "Hi. This is the qmail-send program.\n<a@b.example>:\nMessage-ID:\n"),
	} {
		f.Add(s, "")
		f.Add(s[:len(s)/2], personEnv)
	}
	f.Fuzz(func(t *testing.T, raw, envelope string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := threading.Parse(strings.NewReader(raw), threading.ParseOptions{})
		m.EnvelopeFrom = envelope
		machine.Classify(m)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; len(raw) <= 1<<20 && grew > 64<<20 {
			t.Fatalf("%d bytes of input allocated %d MiB", len(raw), grew>>20)
		}
		if (m.DSN != nil) != (m.Class == threading.ClassDeliveryStatus || m.Class == threading.ClassFeedbackReport) {
			t.Fatalf("class %s with DSN %+v", m.Class, m.DSN)
		}
	})
}
