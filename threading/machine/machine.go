// Package machine tells human mail from machine mail (SPEC 3.1): bounces and
// other delivery status notifications, feedback reports and auto-replies.
package machine

import "helpdesk/threading"

// Classify sets m.Class, and m.DSN for reports, from the mail's headers,
// envelope sender and content.
func Classify(m *threading.Mail) {
	m.Class = threading.ClassHuman
	switch {
	case m.ContentType == "multipart/report" && m.ReportType == "delivery-status":
		m.Class = threading.ClassDeliveryStatus
		m.DSN = &threading.DSN{}
	case m.ContentType == "multipart/report" && m.ReportType == "feedback-report":
		m.Class = threading.ClassFeedbackReport
		m.DSN = &threading.DSN{}
	case m.AutoSubmitted != "" && m.AutoSubmitted != "no", m.XAutoReply:
		m.Class = threading.ClassAutoReply
	}
}
