package machine

import (
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf8"

	"helpdesk/threading"
)

// maxDiagnostic caps DSN.Diagnostic (bytes, cut on a rune boundary).
const maxDiagnostic = 200

// maxRecipients caps DSN.Recipients.
const maxRecipients = 50

// field is one "Name: value" line of a report part, name lowercased.
type field struct{ name, value string }

// parseFields reads RFC 822 style fields, unfolding continuation lines, and
// returns them in groups separated by blank lines (RFC 3464 per-message and
// per-recipient groups). A "> " quote prefix is removed first, so a quoted
// report parses too.
func parseFields(text string) [][]field {
	var groups [][]field
	var cur []field
	flush := func() {
		if len(cur) > 0 {
			groups = append(groups, cur)
			cur = nil
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		if q := strings.TrimLeft(line, " \t"); strings.HasPrefix(q, ">") {
			line = strings.TrimPrefix(strings.TrimLeft(q, ">"), " ")
		}
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(cur) > 0 {
			cur[len(cur)-1].value += " " + strings.TrimSpace(line)
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 || strings.ContainsAny(line[:i], " \t") {
			// Not a field: ends the group (prose between reports).
			flush()
			continue
		}
		cur = append(cur, field{name: strings.ToLower(line[:i]), value: strings.TrimSpace(line[i+1:])})
	}
	flush()
	return groups
}

// hdr is a parsed header block, names lowercased.
type hdr map[string][]string

func (h hdr) get(name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// headerBlock leniently parses the header block at the start of a returned
// message or text/rfc822-headers part.
func headerBlock(b []byte) hdr {
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	text := strings.TrimLeft(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if strings.HasPrefix(text, "From ") { // mbox separator
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	if i := strings.Index(text, "\n\n"); i >= 0 {
		text = text[:i]
	}
	h := hdr{}
	var last string
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			v := h[last]
			v[len(v)-1] += " " + strings.TrimSpace(line)
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 || strings.ContainsAny(line[:i], " \t") {
			last = ""
			continue
		}
		last = strings.ToLower(line[:i])
		h[last] = append(h[last], strings.TrimSpace(line[i+1:]))
	}
	return h
}

// msgID returns the first message id of a header value, without brackets.
func msgID(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 1 {
			id := strings.TrimSpace(v[i+1 : i+j])
			if strings.Contains(id, "@") || len(id) > 8 {
				return id
			}
		}
	}
	for _, f := range strings.Fields(v) {
		f = strings.Trim(f, "<>,;\"'")
		if strings.Contains(f, "@") && !strings.ContainsAny(f, " :/") {
			return f
		}
	}
	return ""
}

// recipient is one per-recipient group of a delivery-status report.
type recipient struct {
	final, original, action, status, diagnostic string
}

var statusRe = regexp.MustCompile(`\b([245])\.(\d{1,3})\.(\d{1,3})\b`)

// parseDeliveryStatus reads the per-message and per-recipient fields of a
// message/delivery-status part (or of a report's text when MIME was lost).
func parseDeliveryStatus(text string) (perMessage map[string]string, rcpts []recipient) {
	perMessage = map[string]string{}
	for _, g := range parseFields(text) {
		var r *recipient
		for _, f := range g {
			switch f.name {
			case "final-recipient", "original-recipient", "x-actual-recipient":
				if r != nil && ((f.name == "final-recipient" && r.final != "") ||
					(f.name == "original-recipient" && r.original != "")) {
					rcpts = append(rcpts, *r)
					r = nil
				}
				if r == nil {
					r = &recipient{}
				}
				switch f.name {
				case "final-recipient":
					r.final = dsnAddr(f.value)
				case "original-recipient":
					r.original = dsnAddr(f.value)
				case "x-actual-recipient":
					if r.final == "" {
						r.final = dsnAddr(f.value)
					}
				}
			case "action", "status", "diagnostic-code":
				if r == nil {
					r = &recipient{}
				}
				switch f.name {
				case "action":
					if r.action == "" {
						r.action = normAction(f.value)
					}
				case "status":
					if r.status == "" {
						r.status = statusRe.FindString(f.value)
					}
				case "diagnostic-code":
					if r.diagnostic == "" {
						r.diagnostic = f.value
					}
				}
			default:
				if _, ok := perMessage[f.name]; !ok {
					perMessage[f.name] = f.value
				}
			}
		}
		if r != nil {
			rcpts = append(rcpts, *r)
		}
	}
	return perMessage, rcpts
}

// dsnAddr takes the address out of "rfc822; addr" (RFC 3464 address-type).
func dsnAddr(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[i+1:]
	}
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	if f := strings.Fields(v); len(f) > 0 {
		v = f[0]
	}
	v = strings.Trim(v, "<>\"',;()")
	if !strings.Contains(v, "@") || strings.ContainsAny(v, "|/") {
		return ""
	}
	return threading.NormalizeAddr(v)
}

func normAction(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch {
	case strings.HasPrefix(v, "fail"):
		return "failed"
	case strings.HasPrefix(v, "delay"):
		return "delayed"
	case strings.HasPrefix(v, "deliver"):
		return "delivered"
	case strings.HasPrefix(v, "relay"):
		return "relayed"
	case strings.HasPrefix(v, "expand"):
		return "expanded"
	}
	return ""
}

func actionRank(a string) int {
	switch a {
	case "failed":
		return 3
	case "delayed":
		return 2
	case "":
		return 0
	}
	return 1
}

// diagText shortens a diagnostic: drops the "smtp;" type, collapses white
// space and caps the length.
func diagText(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 && i < 12 && !strings.ContainsAny(v[:i], " \t") {
		v = v[i+1:]
	}
	v = strings.Join(strings.Fields(v), " ")
	if len(v) > maxDiagnostic {
		v = v[:maxDiagnostic]
		for !utf8.ValidString(v) {
			v = v[:len(v)-1]
		}
	}
	return v
}

// addrSet collects normalised addresses in order, without duplicates.
type addrSet struct {
	list []string
	seen map[string]bool
}

func (a *addrSet) add(addr string) {
	addr = threading.NormalizeAddr(addr)
	if addr == "" || !strings.Contains(addr, "@") || len(a.list) >= maxRecipients {
		return
	}
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	if !a.seen[addr] {
		a.seen[addr] = true
		a.list = append(a.list, addr)
	}
}

// returnedHeaders returns the header blocks of the returned or reported
// message parts, in MIME order.
func returnedHeaders(m *threading.Mail) []hdr {
	var out []hdr
	for _, p := range m.ReportParts {
		switch p.ContentType {
		case "message/rfc822", "message/global", "text/rfc822-headers", "text/rfc822-header",
			"message/global-headers", "message/partial":
			out = append(out, headerBlock(p.Content))
		}
	}
	return out
}

// extractDSN fills the DSN of a delivery-status mail from its report
// parts, its headers and, for bounces without structure, its text.
func extractDSN(m *threading.Mail, s *signals) *threading.DSN {
	d := &threading.DSN{}
	var rcpts addrSet
	var perMessage []map[string]string
	var records []recipient
	for _, p := range m.ReportParts {
		switch p.ContentType {
		case "message/delivery-status", "message/global-delivery-status", "text/delivery-status":
			pm, rs := parseDeliveryStatus(string(p.Content))
			perMessage = append(perMessage, pm)
			records = append(records, rs...)
		}
	}
	if len(records) == 0 && dsnFieldsRe.MatchString(m.Text) {
		// A report whose MIME structure was lost or that was forwarded
		// inline: read the fields from the text. A "Message-ID" field
		// there is the quoted report's own header, not the original's.
		pm, rs := parseDeliveryStatus(m.Text)
		delete(pm, "message-id")
		perMessage = append(perMessage, pm)
		records = append(records, rs...)
	}
	best := -1
	for i, r := range records {
		if r.final != "" {
			rcpts.add(r.final)
		} else if r.original != "" {
			rcpts.add(r.original)
		}
		if best < 0 || actionRank(r.action) > actionRank(records[best].action) ||
			(actionRank(r.action) == actionRank(records[best].action) && records[best].status == "" && r.status != "") {
			best = i
		}
	}
	if best >= 0 {
		r := records[best]
		d.Action, d.Status, d.Diagnostic = r.action, r.status, diagText(r.diagnostic)
	}
	for _, a := range splitAddrs(s.failedRecipients + " " + m.Get("X-Bounced-Address")) {
		rcpts.add(a)
	}
	if n := s.sesJSON; n != nil {
		n.fill(d, &rcpts)
	}

	section := s.section
	if d.Status == "" {
		d.Status = statusRe.FindString(section)
	}
	if d.Diagnostic == "" {
		d.Diagnostic = textDiagnostic(section)
	}
	if d.Action == "" {
		switch {
		case delayRe.MatchString(m.Subject) || delayRe.MatchString(section):
			d.Action = "delayed"
		case strings.HasPrefix(d.Status, "2."):
			d.Action = "delivered"
		case strings.HasPrefix(d.Status, "4."):
			d.Action = "delayed"
		default:
			d.Action = "failed"
		}
	}

	returned := returnedHeaders(m)
	if d.OriginalMessageID == "" {
		for _, h := range returned {
			if id := msgID(h.get("message-id")); id != "" && id != m.MessageID {
				d.OriginalMessageID = id
				break
			}
		}
	}
	if d.OriginalMessageID == "" {
		for _, pm := range perMessage {
			// "message-id": a returned header block glued into the
			// delivery-status part by a broken boundary.
			for _, k := range []string{"x-original-message-id", "original-message-id", "message-id"} {
				if id := msgID(pm[k]); id != "" && id != m.MessageID {
					d.OriginalMessageID = id
					break
				}
			}
		}
	}
	if d.OriginalMessageID == "" {
		d.OriginalMessageID = textMessageID(m.Text, m.MessageID)
	}
	if d.OriginalMessageID == "" {
		// Many MTAs thread the report to the mail it reports on.
		for _, id := range m.InReplyTo {
			if id != m.MessageID && strings.Contains(id, "@") {
				d.OriginalMessageID = id
				break
			}
		}
	}

	if len(rcpts.list) == 0 && !s.listManager {
		// (A list manager's notice names the list, not a recipient.)
		for _, a := range textRecipients(m, section, returned) {
			rcpts.add(a)
		}
	}
	d.Recipients = rcpts.list
	return d
}

// extractFeedback fills the DSN of a feedback report (RFC 5965 ARF, JMRP,
// SES complaints, Apple Mail unsubscribe).
func extractFeedback(m *threading.Mail, s *signals) *threading.DSN {
	d := &threading.DSN{}
	var rcpts addrSet
	for _, p := range m.ReportParts {
		if p.ContentType != "message/feedback-report" {
			continue
		}
		for _, g := range parseFields(string(p.Content)) {
			for _, f := range g {
				switch f.name {
				case "feedback-type":
					if d.FeedbackType == "" {
						d.FeedbackType = strings.ToLower(strings.Fields(f.value + " x")[0])
					}
				case "original-mail-from":
					if d.OriginalMailFrom == "" {
						d.OriginalMailFrom = threading.NormalizeAddr(f.value)
					}
				case "original-rcpt-to", "removal-recipient":
					rcpts.add(f.value)
				case "original-message-id", "x-original-message-id":
					if d.OriginalMessageID == "" {
						d.OriginalMessageID = msgID(f.value)
					}
				}
			}
		}
	}
	if n := s.sesJSON; n != nil {
		n.fill(d, &rcpts)
	}
	for _, h := range returnedHeaders(m) {
		if d.OriginalMessageID == "" {
			if id := msgID(h.get("message-id")); id != "" && id != m.MessageID {
				d.OriginalMessageID = id
			}
		}
		if a := h.get("x-hmxmroriginalrecipient"); a != "" {
			rcpts.add(a)
		}
		if d.OriginalMailFrom == "" {
			if rp := threading.NormalizeAddr(h.get("return-path")); strings.Contains(rp, "@") {
				d.OriginalMailFrom = rp
			}
		}
	}
	if d.OriginalMessageID == "" {
		d.OriginalMessageID = textMessageID(m.Text, m.MessageID)
	}
	if len(rcpts.list) == 0 && s.autoSubmitted && m.From.Addr != "" {
		// An unsubscribe sent on the user's behalf is about the sender.
		rcpts.add(m.From.Addr)
	}
	if d.FeedbackType == "" {
		switch {
		case strings.Contains(strings.ToLower(m.Subject), "unsubscribe") || m.Get("X-Apple-Unsubscribe") != "":
			d.FeedbackType = "unsubscribe"
		default:
			d.FeedbackType = "abuse"
		}
	}
	d.Diagnostic = "feedback-type: " + d.FeedbackType
	d.Recipients = rcpts.list
	return d
}

var delayRe = regexp.MustCompile(`(?i)\bdelay|still being retried|not yet been delivered|will (continue|keep) trying|` +
	`could not send (mail|message) for (the )?past|warning: could not send|temporar(y|ily) (failure|unable)|` +
	`retry (time|timeout) not reached`)

var smtpReplyRe = regexp.MustCompile(`\b[45]\d\d[ -]|\b[45]\.\d{1,3}\.\d{1,3}\b`)

// textDiagnostic picks the first line of a text bounce that quotes an SMTP
// reply or status code.
func textDiagnostic(section string) string {
	for _, line := range strings.Split(section, "\n") {
		if smtpReplyRe.MatchString(line) {
			return diagText(strings.TrimLeft(strings.TrimSpace(line), ">()"))
		}
	}
	return ""
}

var msgIDLineRe = regexp.MustCompile(`(?im)^[ \t>]*message-id:[ \t]*(.*)$`)
var traceLineRe = regexp.MustCompile(`(?i)^[ \t>]*(received|return-path|x-original-to|delivered-to|mime-version|content-type):`)
var headerLikeRe = regexp.MustCompile(`^[ \t>]*[A-Za-z][A-Za-z0-9-]*:[ \t]|^[ \t>]*[ \t]+\S`)

// textMessageID finds the Message-ID of the returned message quoted in a
// text bounce. When several "Message-ID:" lines appear (a forwarded
// bounce quotes the bounce's own header too), the one inside a header block
// with trace fields (Received, Return-Path, ...) is the returned message.
func textMessageID(text, own string) string {
	if len(text) > 256<<10 {
		text = text[:256<<10]
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	first := ""
	for i, line := range lines {
		sm := msgIDLineRe.FindStringSubmatch(line)
		if sm == nil {
			continue
		}
		v := sm[1]
		if strings.TrimSpace(v) == "" && i+1 < len(lines) {
			v = lines[i+1]
		}
		id := msgID(v)
		if id == "" || id == own {
			continue
		}
		if first == "" {
			first = id
		}
		// Look at the surrounding header block for trace fields.
		for j := i - 1; j >= 0 && j >= i-60 && headerLikeRe.MatchString(lines[j]); j-- {
			if traceLineRe.MatchString(lines[j]) {
				return id
			}
		}
		for j := i + 1; j < len(lines) && j <= i+60 && headerLikeRe.MatchString(lines[j]); j++ {
			if traceLineRe.MatchString(lines[j]) {
				return id
			}
		}
	}
	return first
}

const addrPattern = `[A-Za-z0-9!#$%&'*+=?^_~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`

var addrRe = regexp.MustCompile(addrPattern)

// notRecipientLineRe matches lines of a text bounce whose addresses are not
// failed recipients (the sender, message ids, trace fields).
var notRecipientLineRe = regexp.MustCompile(`(?i)^[ \t>]*(message-id|in-reply-to|references|received|from|sender|` +
	`reply-to|return-path|date|subject|mail from|envelope-from|x-[a-z0-9-]+|dkim-signature|cc|bcc|` +
	`reporting-mta|received-from-mta|remote-mta|sent by|your mail sent on)\s*:|\bid <|` +
	`please contact|contact (us|your)|for (more )?(help|information)|do not reply`)

// textRecipients finds the failed recipients named in a text bounce: the
// addresses of its own wording, minus the bounce's sender and recipients,
// the returned message's sender, and role addresses of mail systems.
func textRecipients(m *threading.Mail, section string, returned []hdr) []string {
	exclude := map[string]bool{}
	ex := func(a string) {
		if a = threading.NormalizeAddr(a); a != "" {
			exclude[a] = true
		}
	}
	ex(m.From.Addr)
	ex(m.EnvelopeFrom)
	for _, a := range m.AllRecipients() {
		ex(a.Addr)
	}
	for _, a := range m.ReplyTo {
		ex(a.Addr)
	}
	if m.Sender != nil {
		ex(m.Sender.Addr)
	}
	for _, h := range returned {
		for _, k := range []string{"from", "sender", "reply-to", "return-path"} {
			for _, a := range addrRe.FindAllString(h.get(k), -1) {
				ex(a)
			}
		}
	}
	// Addresses on "From:"/"MAIL FROM:" lines anywhere in the text are
	// the original sender's.
	for _, line := range strings.Split(m.Text, "\n") {
		if fromLineRe.MatchString(line) {
			for _, a := range addrRe.FindAllString(line, -1) {
				ex(a)
			}
		}
	}
	// Addresses in the places bounces name failed recipients win over
	// any other address of the text.
	var structured, generic []string
	keep := func(list *[]string, a string) {
		n := threading.NormalizeAddr(strings.Trim(a, ".-"))
		if !exclude[n] && !isRobot(localPart(n)) {
			*list = append(*list, n)
		}
	}
	for _, line := range strings.Split(section, "\n") {
		if notRecipientLineRe.MatchString(line) {
			continue
		}
		line = urlRe.ReplaceAllString(line, " ")
		for _, re := range recipientLineRes {
			for _, sm := range re.FindAllStringSubmatch(line, -1) {
				keep(&structured, sm[1])
			}
		}
		for _, a := range addrRe.FindAllString(line, -1) {
			keep(&generic, a)
		}
	}
	if len(structured) > 0 {
		return structured
	}
	return generic
}

// recipientLineRes find failed recipients where text bounces name them:
// an address opening a line ("  user@host", "<user@host>:", "user@host
// [User unknown]"), an address in angle brackets before ":" or "..."
// (qmail, Postfix, sendmail), or after a label.
var recipientLineRes = []*regexp.Regexp{
	regexp.MustCompile(`^[ \t>]*<?(` + addrPattern + `)>?[ \t]*(?::|\.\.\.|\[|\(|,|;|\bon\b|$)`),
	regexp.MustCompile(`<(` + addrPattern + `)>[ \t]*(?::|\.\.\.)`),
	regexp.MustCompile(`(?i)(?:recipient address|original-recipient|final-recipient|rcpt to|delivered to|` +
		`could not be delivered to|failed recipient|invalid recipient|unknown (?:user|recipient)|` +
		`following (?:address|recipient)(?:\(?e?s\)?)?|recipient|address)[^@\n]{0,24}?<?(` + addrPattern + `)`),
}

// urlRe matches URLs, whose query strings often hold the sender's address.
var urlRe = regexp.MustCompile(`(?i)(https?|ftp|mailto):\S*`)

var fromLineRe = regexp.MustCompile(`(?i)^[ \t>]*(from|mail from|sender|return-path|envelope-from)\s*:`)

func splitAddrs(v string) []string {
	return addrRe.FindAllString(v, -1)
}

// sesNotification is an Amazon SES event published by SNS to an e-mail
// subscription: JSON in the text of a mail from SNS.
type sesNotification struct {
	kind string // bounce, complaint, delivery, deliverydelay
	msg  sesMessage
}

type sesMessage struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Message          string `json:"Message"` // SNS envelope around the SES event
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
	} `json:"delivery"`
	DeliveryDelay *struct {
		DelayedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"delayedRecipients"`
	} `json:"deliveryDelay"`
	Mail struct {
		Source  string `json:"source"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

var sesKindRe = regexp.MustCompile(`\\?"(?:notificationType|eventType)\\?"\s*:\s*\\?"(Bounce|Complaint|DeliveryDelay|Delivery)\\?"`)

// parseSES recognises an SES notification in the text of a mail that SNS
// sent (the caller checks the sender).
func parseSES(m *threading.Mail) *sesNotification {
	from := strings.ToLower(m.From.Addr)
	if m.Get("X-Amz-Sns-Message-Id") == "" && !strings.HasSuffix(from, ".amazonaws.com") &&
		!strings.HasSuffix(from, "@amazonaws.com") && !strings.HasSuffix(from, "amazonses.com") {
		return nil
	}
	text := m.Text
	sm := sesKindRe.FindStringSubmatch(text)
	if sm == nil {
		return nil
	}
	n := &sesNotification{kind: strings.ToLower(sm[1])}
	if i := strings.IndexByte(text, '{'); i >= 0 {
		// MTAs break long lines with "!\n " (sendmail) or "\n "; undo
		// it (outside strings a newline and a space are white space).
		js := strings.NewReplacer("!\r\n ", "", "!\n ", "", "\r\n ", "", "\n ", "").Replace(text[i:])
		var msg sesMessage
		if json.NewDecoder(strings.NewReader(js)).Decode(&msg) == nil {
			if msg.Message != "" {
				var inner sesMessage
				if json.Unmarshal([]byte(msg.Message), &inner) == nil {
					msg = inner
				}
			}
			n.msg = msg
		}
	}
	return n
}

func (n *sesNotification) fill(d *threading.DSN, rcpts *addrSet) {
	msg := &n.msg
	if b := msg.Bounce; b != nil {
		for _, r := range b.BouncedRecipients {
			rcpts.add(r.EmailAddress)
			if d.Status == "" {
				d.Action, d.Status, d.Diagnostic = normAction(r.Action), statusRe.FindString(r.Status), diagText(r.DiagnosticCode)
			}
		}
		if d.Action == "" {
			if strings.EqualFold(b.BounceType, "Transient") {
				d.Action = "delayed"
			} else {
				d.Action = "failed"
			}
		}
	}
	if c := msg.Complaint; c != nil {
		for _, r := range c.ComplainedRecipients {
			rcpts.add(r.EmailAddress)
		}
		if d.FeedbackType == "" && c.ComplaintFeedbackType != "" {
			d.FeedbackType = strings.ToLower(c.ComplaintFeedbackType)
		}
	}
	if dl := msg.Delivery; dl != nil {
		for _, r := range dl.Recipients {
			rcpts.add(r)
		}
		d.Action = "delivered"
		if d.Status == "" {
			d.Status = statusRe.FindString(dl.SMTPResponse)
		}
		if d.Diagnostic == "" {
			d.Diagnostic = diagText(dl.SMTPResponse)
		}
	}
	if dd := msg.DeliveryDelay; dd != nil {
		for _, r := range dd.DelayedRecipients {
			rcpts.add(r.EmailAddress)
			if d.Status == "" {
				d.Status, d.Diagnostic = statusRe.FindString(r.Status), diagText(r.DiagnosticCode)
			}
		}
		d.Action = "delayed"
	}
	if d.OriginalMessageID == "" {
		for _, h := range msg.Mail.Headers {
			if strings.EqualFold(h.Name, "Message-ID") {
				d.OriginalMessageID = msgID(h.Value)
			}
		}
	}
	if d.OriginalMessageID == "" && msg.Mail.CommonHeaders.MessageID != "" {
		d.OriginalMessageID = msgID(msg.Mail.CommonHeaders.MessageID)
	}
	if d.OriginalMailFrom == "" && msg.Mail.Source != "" {
		d.OriginalMailFrom = threading.NormalizeAddr(msg.Mail.Source)
	}
}
