// Package machine tells human mail from machine mail (SPEC 3.1): bounces and
// other delivery status notifications, feedback reports and auto-replies.
//
// Classify looks at, in this order:
//
//  1. structure: multipart/report and its report-type, message/delivery-status
//     and message/feedback-report parts, Hotmail JMRP complaints and Amazon
//     SES/SNS notifications;
//  2. headers: X-Failed-Recipients, Auto-Submitted (anything but "no"),
//     X-Autoreply / X-Autorespond and their relatives, Precedence: auto_reply;
//  3. the sender: the null envelope sender, MAILER-DAEMON, postmaster and
//     other robot addresses, mailing-list managers;
//  4. content: bounce and out-of-office subjects in many languages and the
//     boilerplate of bounces that have no MIME structure (Exim, qmail,
//     Domino, Exchange, providers).
//
// Precedence: bulk|junk|list and X-Auto-Response-Suppress are deliberately
// not machine signals: they only mean "send no automatic answer"
// (threading.Mail.SuppressAutoAnswer). A bounce or out-of-office subject, or
// bounce wording in the text, never makes a mail machine mail on its own: it
// needs a machine sender or machine structure to back it up, so a customer
// who writes "my mail was undeliverable" stays human.
//
// Out-of-office subjects count only as the template marker responders put
// at the start of the subject, followed by a colon, bracket or dash
// ("Automatic reply: ...", "Abwesenheitsnotiz: ...", "[부재중] ..."). A
// person's subject that merely mentions it ("Question about the out of
// office policy", "Out of office hours support", "Re: Out of Office: ...")
// stays human: a wrong "human" costs one acknowledgement to a responder,
// which RFC 3834 responders do not answer, while a wrong "auto-reply"
// silently withholds the acknowledgement from a customer.
//
// A bounce forwarded by a person with at most a few words of their own
// ("Fwd: Returned mail ..." + "FYI") is the bounce it carries; with a real
// question it is human.
//
// The receiver must set Mail.EnvelopeFrom before calling Classify: an empty
// EnvelopeFrom means the null sender <>, which is itself a machine signal
// (RFC 3834 responders and DSNs use it). Tools that inject a stored message
// without an envelope should use its Return-Path, or the From address.
package machine

import (
	"mime"
	"regexp"
	"strings"

	"helpdesk/threading"
)

// Classify sets m.Class, and m.DSN for delivery-status and feedback-report
// mail, from the mail's headers, envelope sender and content.
func Classify(m *threading.Mail) {
	m.Class = threading.ClassHuman
	m.DSN = nil
	s := inspect(m)
	switch {
	case s.feedback:
		m.Class = threading.ClassFeedbackReport
	case s.dsnStructure:
		m.Class = threading.ClassDeliveryStatus
	case s.reportType == "disposition-notification" || s.hasMDNPart:
		// Read receipts are answered by software: treat as auto-replies.
		m.Class = threading.ClassAutoReply
	case s.failedRecipients != "":
		m.Class = threading.ClassDeliveryStatus
	case s.daemonFrom:
		// MAILER-DAEMON sends nothing but delivery reports.
		m.Class = threading.ClassDeliveryStatus
	case s.daemonSender:
		// The null sender: a bounce when it says so, else an automatic
		// response (RFC 3834 section 3.3 has responders use <>).
		if s.bounceEvidence() {
			m.Class = threading.ClassDeliveryStatus
		} else {
			m.Class = threading.ClassAutoReply
		}
	case s.robotSender && (s.bounceText && (s.bounceSubject || s.returned() || smtpReplyRe.MatchString(s.section)) ||
		s.bounceSubject && s.returned()):
		// postmaster, no-reply and the like: only with two of a
		// bounce's subject, its wording (or an SMTP reply) and a
		// returned message. A no-reply "your parcel could not be
		// delivered" is a notice, not a bounce (an auto-reply below
		// when it says Auto-Submitted).
		m.Class = threading.ClassDeliveryStatus
	case s.listManager && (s.bounceText || s.hasReturned || s.listNotice):
		m.Class = threading.ClassDeliveryStatus
	case s.hasReturned && s.bounceSubject && s.bounceText:
		// A returned message under a bounce subject and bounce wording,
		// whatever the sender (provider notices from no-reply addresses).
		m.Class = threading.ClassDeliveryStatus
	case s.forwardedBounce:
		m.Class = threading.ClassDeliveryStatus
	case s.autoReply():
		if s.bounceEvidence() && (s.bounceSubject || s.hasReturned) {
			// Exim and others mark their bounces Auto-Submitted.
			m.Class = threading.ClassDeliveryStatus
		} else {
			m.Class = threading.ClassAutoReply
		}
	}
	switch m.Class {
	case threading.ClassDeliveryStatus:
		m.DSN = extractDSN(m, s)
	case threading.ClassFeedbackReport:
		m.DSN = extractFeedback(m, s)
	}
}

// signals are the facts Classify decides on.
type signals struct {
	reportType string // report-type of a multipart/report, lowercased

	hasDSNPart, hasFeedbackPart, hasMDNPart bool
	hasReturned                             bool // message/rfc822, text/rfc822-headers, ...
	returnedInText                          bool // a returned message quoted after the report's text

	dsnStructure bool // RFC 3464 structure or an equivalent notification
	feedback     bool // ARF, JMRP, SES complaint, Apple unsubscribe

	failedRecipients string // X-Failed-Recipients

	nullEnvelope bool // MAIL FROM:<>
	daemonFrom   bool // From: MAILER-DAEMON or an empty address
	daemonSender bool // null envelope, MAILER-DAEMON envelope or From
	robotSender  bool // postmaster, no-reply, bounce addresses, "Mail Delivery System"
	listManager  bool // a mailing-list manager's own notice
	listNotice   bool // list manager subject saying the post was refused

	autoSubmitted bool // Auto-Submitted other than "no"
	autoHeader    bool // X-Autoreply and relatives
	autoSubject   bool // out-of-office or auto-reply subject

	bounceSubject bool
	bounceText    bool
	section       string           // the text bounce's own wording (bounceSection)
	sesJSON       *sesNotification // Amazon SES notification sent by SNS

	forwardedBounce bool // a person forwarded a bounce without a note
}

func (s *signals) autoReply() bool { return s.autoSubmitted || s.autoHeader || s.autoSubject }

func (s *signals) bounceEvidence() bool { return s.bounceSubject || s.bounceText }

// returned reports a copy of the returned message: a MIME part, or a block
// after the report's own text.
func (s *signals) returned() bool { return s.hasReturned || s.returnedInText }

func inspect(m *threading.Mail) *signals {
	s := &signals{reportType: reportType(m)}
	for _, p := range m.ReportParts {
		switch p.ContentType {
		case "message/delivery-status", "message/global-delivery-status", "text/delivery-status":
			s.hasDSNPart = true
		case "message/feedback-report":
			s.hasFeedbackPart = true
		case "message/disposition-notification", "message/global-disposition-notification":
			s.hasMDNPart = true
		case "message/rfc822", "message/global", "text/rfc822-headers", "text/rfc822-header",
			"message/global-headers", "message/partial":
			s.hasReturned = true
		}
	}
	s.failedRecipients = strings.TrimSpace(m.Get("X-Failed-Recipients"))

	env := strings.ToLower(strings.Trim(strings.TrimSpace(m.EnvelopeFrom), "<>"))
	s.nullEnvelope = env == ""
	fromRaw := strings.ToLower(m.Get("From"))
	fromAddr := strings.ToLower(m.From.Addr)
	s.daemonFrom = isDaemon(localPart(fromAddr)) || strings.Contains(fromRaw, "mailer-daemon") ||
		strings.Contains(fromRaw, "mailer daemon") || strings.Contains(fromRaw, "<>")
	s.daemonSender = s.nullEnvelope || isDaemon(localPart(env)) || s.daemonFrom
	s.robotSender = isRobot(localPart(fromAddr)) || isRobot(localPart(env)) || isRobotName(fromRaw)
	s.listManager = isListManager(m, fromAddr)

	s.autoSubmitted = autoSubmitted(m.AutoSubmitted)
	s.autoHeader = m.XAutoReply || autoHeaders(m)
	s.autoSubject = isAutoReplySubject(m.Subject)
	s.bounceSubject = isBounceSubject(m.Subject)
	// The wording of the text only corroborates another signal: a plain
	// person's mail (no machine sender, header, structure or subject)
	// skips the scan, which is most of Classify's cost.
	if s.daemonSender || s.robotSender || s.listManager || s.hasReturned || s.failedRecipients != "" ||
		s.autoSubmitted || s.autoHeader || s.autoSubject || s.bounceSubject || s.reportType != "" ||
		s.hasDSNPart || s.hasFeedbackPart || s.hasMDNPart {
		s.section, s.returnedInText = bounceSection(m.Text)
		s.bounceText = isBounceText(s.section)
		s.listNotice = s.listManager && listRefusal.MatchString(m.Subject+"\n"+s.section)
	}

	switch {
	case s.reportType == "delivery-status" || s.hasDSNPart:
		s.dsnStructure = true
	case s.reportType == "feedback-report" || s.hasFeedbackPart:
		s.feedback = true
	}
	if !s.dsnStructure && !s.feedback {
		if n := parseSES(m); n != nil {
			s.sesJSON = n
			switch n.kind {
			case "complaint":
				s.feedback = true
			case "bounce", "delivery", "deliverydelay":
				s.dsnStructure = true
			}
		}
	}
	if !s.dsnStructure && !s.feedback {
		s.feedback = jmrp(m, s) || appleUnsubscribe(m, s)
	}
	if !s.dsnStructure && !s.feedback && !s.daemonSender {
		s.forwardedBounce = forwardedBounce(m)
	}
	return s
}

// reportType returns the report-type parameter of a multipart/report,
// from Mail.ReportType or, when Parse left it empty, the Content-Type header.
func reportType(m *threading.Mail) string {
	if m.ReportType != "" {
		return strings.ToLower(m.ReportType)
	}
	ct := m.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil {
		if strings.ToLower(mt) != "multipart/report" {
			return ""
		}
		return strings.ToLower(strings.TrimSpace(params["report-type"]))
	}
	// Lenient fallback for headers mime cannot parse.
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "multipart/report") {
		return ""
	}
	if sm := reportTypeRe.FindStringSubmatch(ct); sm != nil {
		return strings.ToLower(sm[1])
	}
	return ""
}

var reportTypeRe = regexp.MustCompile(`(?i)report-type\s*=\s*"?([a-z0-9-]+)`)

// autoSubmitted reports whether an Auto-Submitted value marks machine mail
// (RFC 3834: anything but "no"; the value may carry a comment).
func autoSubmitted(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return false
	}
	if i := strings.IndexAny(v, " \t;("); i >= 0 {
		v = v[:i]
	}
	return v != "no"
}

// autoHeaders checks the vendor headers responders add besides the
// X-Autoreply family, which Parse reads into Mail.XAutoReply (a value of
// "no" or "false" there is not an auto-reply).
func autoHeaders(m *threading.Mail) bool {
	if strings.EqualFold(strings.TrimSpace(m.Get("X-Autogenerated")), "reply") {
		return true
	}
	for _, h := range []string{"Precedence", "X-Precedence"} {
		switch strings.ToLower(strings.TrimSpace(m.Get(h))) {
		case "auto_reply", "auto-reply", "autoreply":
			return true
		}
	}
	if strings.EqualFold(strings.TrimSpace(m.Get("X-Apple-Action")), "vacation") {
		return true
	}
	if strings.Contains(strings.ToLower(m.Get("X-Post-Messageclass")), "autoresponder") {
		return true
	}
	return false
}

func localPart(addr string) string {
	addr = strings.Trim(strings.TrimSpace(addr), "<>")
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[:i])
	}
	return strings.ToLower(addr)
}

// squash removes the separators people and MTAs put in role names, so
// "post_master", "mailer-daemon" and "no.reply" compare plainly.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

func isDaemon(local string) bool {
	switch squash(local) {
	case "mailerdaemon", "mailerdeamon", "maildaemon", "mailer":
		return true
	}
	return false
}

func isRobot(local string) bool {
	l := squash(local)
	switch l {
	case "postmaster", "noreply", "donotreply", "bounce", "bounces", "maildelivery",
		"mailadmin", "mailsystem", "mdaemon", "smtp", "mta", "mailerror", "mailerrors":
		return true
	}
	return isDaemon(local) || strings.HasPrefix(l, "bounce") || strings.HasPrefix(l, "postmaster") ||
		strings.HasPrefix(l, "noreply") || strings.HasPrefix(l, "mailerdaemon")
}

// robotNames are display names of delivery systems (lowercase).
var robotNames = []string{"mail deliver system", "mail delivery system", "mail deliver subsystem",
	"mail delivery subsystem", "delivery status notification", "postmaster", "mail administrator",
	"mail system", "interscan", "system administrator"}

// isRobotName reports a From field (lowercased) naming a delivery system:
// one of robotNames, or "ndr" as a word.
func isRobotName(from string) bool {
	if containsAny(from, robotNames) {
		return true
	}
	for i := 0; ; {
		j := strings.Index(from[i:], "ndr")
		if j < 0 {
			return false
		}
		j += i
		if (j == 0 || !isWordByte(from[j-1])) && (j+3 == len(from) || !isWordByte(from[j+3])) {
			return true
		}
		i = j + 3
	}
}

// isWordByte is regexp's \w (ASCII letters, digits, underscore).
func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isListManager reports a notice from a mailing-list manager itself (not a
// post relayed by the list): list software headers and a From address that
// is the list's administrative address.
func isListManager(m *threading.Mail, fromAddr string) bool {
	soft := m.Get("X-Mlserver") != "" || m.Get("Mailing-List") != "" || m.Get("X-Mailman-Version") != "" ||
		m.Get("X-Ml-Name") != "" || m.ListID != "" || m.Get("List-Subscribe") != ""
	if !soft {
		return false
	}
	// The separator matters: "neko-admin" is a list's address,
	// "sysadmin" is a person.
	l := localPart(fromAddr)
	for _, suffix := range []string{"-admin", "-owner", "-request", "-bounces", "-ctl", "_admin", "_owner"} {
		if strings.HasSuffix(l, suffix) {
			return true
		}
	}
	switch l {
	case "majordomo", "listserv", "mailman", "sympa", "ecartis", "ezmlm", "fml":
		return true
	}
	return strings.HasPrefix(l, "owner-")
}

var listRefusal = regexp.MustCompile(`(?i)not (a )?member|loop alert|duplicated message-id|rejected|` +
	`could not be (delivered|posted)|held for moderat|not allowed to post|returned`)

// jmrp recognises Hotmail/Outlook.com Junk Mail Reporting Program reports:
// the reported message attached as message/rfc822 under a fixed subject.
func jmrp(m *threading.Mail, s *signals) bool {
	if !s.hasReturned {
		return false
	}
	if strings.HasPrefix(strings.ToLower(m.Subject), "complaint about message from ") {
		return true
	}
	for _, p := range m.ReportParts {
		if p.ContentType == "message/rfc822" {
			h := headerBlock(p.Content)
			if h.get("x-hmxmroriginalrecipient") != "" {
				return true
			}
		}
	}
	return false
}

// appleUnsubscribe recognises the opt-out mail Apple Mail sends on the
// user's behalf (RFC 8058 style unsubscribe by mail): a complaint about
// the mail it answers, not a person writing.
func appleUnsubscribe(m *threading.Mail, s *signals) bool {
	return strings.EqualFold(strings.TrimSpace(m.Get("X-Apple-Unsubscribe")), "true") && s.autoSubmitted
}
