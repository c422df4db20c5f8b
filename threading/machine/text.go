package machine

import (
	"regexp"
	"strings"

	"helpdesk/threading"
)

// autoReplyPrefixes are the markers responders put at the start of a
// subject ("Automatic reply: ...", "Abwesenheitsnotiz: ..."), lowercased.
// Only unmistakable template phrases are listed: generic words a person
// might open a subject with ("Absence", "Vacation", "On vacation") are not.
var autoReplyPrefixes = []string{
	// English
	"out of office", "out of the office", "out-of-office", "ooo", "oof",
	"automatic reply", "automatic response", "automated reply", "automated response",
	"auto reply", "auto-reply", "autoreply", "auto response", "auto-response", "autoresponse", "autorespons",
	"auto-generated reply", "away from the office", "away from my office", "away from office",
	"vacation reply", "vacation response", "vacation auto-reply", "vacation autoreply", "vacation notice",
	"absence notice", "i am out of the office", "i'm out of the office", "i am currently out of the office",
	// German
	"abwesenheitsnotiz", "automatische antwort", "automatische abwesenheitsnotiz", "außer haus", "ausser haus",
	"nicht im büro", "nicht im buero",
	// French
	"réponse automatique", "reponse automatique", "réponse automatique d'absence", "absence du bureau",
	"absent du bureau",
	// Spanish, Portuguese, Italian, Catalan
	"respuesta automática", "respuesta automatica", "fuera de la oficina", "fuera de oficina",
	"resposta automática", "resposta automatica", "fora do escritório", "fora do escritorio",
	"risposta automatica", "fuori ufficio", "fuori sede", "resposta automàtica", "fora de l'oficina",
	// Dutch, Scandinavian, Finnish
	"automatisch antwoord", "afwezigheidsmelding", "niet aanwezig", "autosvar", "automatiskt svar",
	"frånvaro", "franvaro", "automatisk svar", "automatisk besked", "fravær", "fravaer", "ikke på kontoret",
	"ikke til stede", "ej på kontoret", "automaattinen vastaus",
	// Central and Eastern Europe, Turkish, Greek
	"automatyczna odpowiedź", "automatyczna odpowiedz", "nieobecność", "nieobecnosc", "poza biurem",
	"automatická odpověď", "automaticka odpoved", "automatická odpoveď", "mimo kancelář", "mimo kancelar",
	"automatikus válasz", "automatikus valasz", "házon kívül", "hazon kivul", "răspuns automat", "raspuns automat",
	"automatski odgovor", "samodejni odgovor", "otomatik yanıt", "otomatik yanit", "otomatik cevap",
	"ofis dışında", "αυτόματη απάντηση", "εκτός γραφείου",
	// Cyrillic
	"автоответ", "автоматический ответ", "автоматична відповідь", "автовідповідь",
	"нет на месте", "вне офиса", "автоматичен отговор",
	// Hebrew, Arabic, Persian
	"תשובה אוטומטית", "מחוץ למשרד", "رد تلقائي", "رد آلي", "خارج المكتب", "پاسخ خودکار",
	// Korean, Japanese, Chinese
	"부재중", "부재 중", "부재 알림", "자동 응답", "자동응답", "자동 회신", "자동회신", "자동 답장", "자동답장",
	"自動応答", "自動返信", "自動回答", "不在通知", "不在のお知らせ", "不在",
	"自动回复", "自动答复", "自動回覆", "自動回复", "自動答覆", "自动应答", "不在办公室",
	// South and South-East Asia
	"ตอบกลับอัตโนมัติ", "trả lời tự động", "tra loi tu dong", "balasan otomatis", "balasan automatik",
	"di luar kantor", "di luar pejabat", "स्वचालित उत्तर",
}

// autoReplyFollowers are the words a marker may be followed by instead of
// a colon ("Out of Office AutoReply: ...", "Out of office reply").
var autoReplyFollowers = []string{"reply", "autoreply", "auto-reply", "auto reply", "response", "notice",
	"notification", "message", "re:", "re :"}

// isAutoReplySubject reports an out-of-office or auto-reply marker at the
// start of the subject (after an optional "[" or "("), followed by a
// colon, a bracket, a dash, the end of the subject or a word such as
// "reply". So "Out of Office: renewal" and "[부재중] 갱신" are markers, and
// "Out of office hours support" or "Automatic reply not working" are a
// person's subjects.
func isAutoReplySubject(subject string) bool {
	s := strings.ToLower(strings.TrimSpace(subject))
	s = strings.TrimLeft(s, "[(*#【 ")
	for _, p := range autoReplyPrefixes {
		if !strings.HasPrefix(s, p) {
			continue
		}
		rest := strings.TrimLeft(s[len(p):], " \t")
		if rest == "" {
			return true
		}
		for _, sep := range []string{":", "：", "-", "–", "—", "|", "]", ")", "】", "!", "."} {
			if strings.HasPrefix(rest, sep) {
				return true
			}
		}
		for _, w := range autoReplyFollowers {
			if strings.HasPrefix(rest, w) {
				return true
			}
		}
	}
	return false
}

// bounceSubjectPhrases are what delivery systems put in the subjects of
// bounces and delay notices, lowercased. They corroborate a machine sender
// or structure, never a signal on their own.
var bounceSubjectPhrases = []string{
	"undeliver", "delivery status", "delivery notification", "delivery failure", "delivery failed",
	"delivery problem", "delivery error", "delivery report", "delivery delay", "delivery has failed",
	"delivery incomplete", "failed delivery", "failure delivery", "mail delivery", "returned mail",
	"returning message", "failure notice", "mail system error", "could not be delivered",
	"couldn't be delivered", "not delivered", "non-delivery", "nondelivery", "non delivery", "delayed mail",
	"mail failure", "returned to sender", "error sending your mail", "could not send", "message delivery",
	"delivery delayed", "unable to deliver", "mail error", "bounce notification", "bounced mail",
	"bounced message", "email bounce", "mail bounce",
	// German, French, Spanish, Italian, Portuguese, Dutch, Nordic, Finnish
	"unzustellbar", "nicht zustellbar", "zustellungsfehler", "rückläufer", "non remis", "non distribuable",
	"échec de la remise", "echec de la remise", "échec de remise", "non délivré", "non delivre",
	"no se puede entregar", "no se pudo entregar", "no entregado", "non recapitabile", "mancata consegna",
	"não entregue", "nao entregue", "falha na entrega", "onbestelbaar", "niet bezorgd", "olevererbar",
	"kunde inte levereras", "kan ikke leveres", "ikke leveret", "uleverbar", "ei voitu toimittaa",
	// Polish, Czech, Hungarian, Turkish, Russian
	"niedostarczon", "nie można dostarczyć", "nedoručiteln", "nedoručen", "kézbesíthetetlen",
	"teslim edilemedi", "iletilemedi", "не доставлен", "недоставлен", "ошибка доставки", "не может быть доставлен",
	// Japanese, Korean, Chinese
	"配信エラー", "エラー通知", "配信できません", "送信できません", "未配信", "配信不能", "配送エラー", "メールエラー",
	"配信失敗", "送信エラー", "未達", "返送", "배달 실패", "배달실패", "전송 실패", "전송실패", "전달 실패", "전달실패",
	"발송 실패", "발송실패", "반송", "전송 오류", "수신 실패", "退信", "投递失败", "無法傳遞", "无法投递", "未送达",
	"未送達", "递送失败", "發送失敗", "发送失败",
}

func containsAny(lower string, phrases []string) bool {
	for _, p := range phrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}

// replyPrefixRe matches the reply and forward prefixes of mail clients;
// a reply to or forward of a bounce is a person's mail.
var replyPrefixRe = regexp.MustCompile(`(?i)^\s*(re|fw|fwd|aw|wg|sv|vs|vb|tr|rv|enc|res|odp|pd|rif|r|i|ynt|ilt|` +
	`antw|atb|továbbítás|回复|答复|转发|回覆|轉寄|답장|회신|전달|返信|転送)\s*(\[\d+\])?\s*[:：]`)

// forwardPrefixRe matches forward prefixes only.
var forwardPrefixRe = regexp.MustCompile(`(?i)^\s*(fw|fwd|wg|tr|rv|enc|i|ilt|továbbítás|转发|轉寄|전달|転送)\s*(\[\d+\])?\s*[:：]\s*`)

func isBounceSubject(subject string) bool {
	// The phrases first: most subjects have none, and the reply-prefix
	// expression costs more.
	return containsAny(strings.ToLower(subject), bounceSubjectPhrases) && !replyPrefixRe.MatchString(subject)
}

// bounceTextPhrases are the wording of delivery reports, lowercased. Like
// the subjects they only corroborate a machine sender or structure.
var bounceTextPhrases = []string{
	"could not be delivered", "couldn't be delivered", "could not be delivered", "was not delivered",
	"wasn't delivered", "not been delivered", "undeliverable", "undelivered", "delivery failed",
	"delivery has failed", "delivery to the following recipient", "failed permanently", "permanent error",
	"permanent failure", "permanent fatal error", "following address(es) failed", "following addresses failed",
	"following addresses had", "following address failed", "user unknown", "unknown user", "no such user",
	"mailbox unavailable", "mailbox is unavailable", "mailbox full", "mailbox is full", "quota exceeded",
	"over quota", "returned mail", "returning message to sender", "could not deliver", "unable to deliver",
	"cannot deliver", "mail delivery software", "qmail-send program", "transcript of session follows",
	"did not reach some or all", "did not reach the following", "recipient address rejected", "host unknown",
	"name service error", "still being retried", "not yet been delivered", "will continue trying",
	"will keep trying", "delivery attempts", "smtp error from remote", "error message below",
	"invalid user address", "requested action not taken", "final-recipient:", "diagnostic-code:",
	"delivery status notification", "message rejected", "message was rejected", "delivery has been delayed",
	"message delivery has failed", "this is the mail system at host", "i'm sorry to have to inform you",
	"your message could not", "your message cannot", "your message can't", "delivery failure",
	"failed to deliver", "rejected your message", "no mailbox here", "address rejected", "error has occurred while attempting to deliver",
	"failure reasons", "exceeds allowed size",
	// Other languages
	"送信できませんでした", "配信できませんでした", "届きませんでした", "宛先不明", "送信できません", "配信できません",
	"전송되지 않았", "배달되지 않았", "전달되지 않았", "수신자를 찾을 수 없", "반송되었", "退信", "无法投递", "無法傳遞",
	"投递失败", "не доставлено", "не может быть доставлено", "не удалось доставить", "не было доставлено",
	"konnte nicht zugestellt", "nicht zugestellt", "unzustellbar", "n'a pas pu être remis",
	"n'a pas pu être distribu", "non remis", "no se ha podido entregar", "no pudo ser entregado",
	"non è stato possibile recapitare", "non recapitabile",
}

// maxBounceScan is how much of a bounce's own text is searched for its
// wording (it comes first; the rest is the returned message).
const maxBounceScan = 16 << 10

func isBounceText(section string) bool {
	if len(section) > maxBounceScan {
		section = section[:maxBounceScan]
	}
	return containsAny(strings.ToLower(section), bounceTextPhrases)
}

// returnedMarkers start the copy of the returned message in text bounces.
var returnedMarkers = []string{
	"this is a copy of the message", "below this line is a copy of the message", "original message follows",
	"----- original message -----", "-----original message-----", "original message headers",
	"header of the original message", "original mail as follows", "--- original message ---",
	"------ original message", "unsent message below", "included is a copy", "a copy of the original message",
	"headers of the original message", "original message text", "the text you sent follows",
	"bounced e-mail:", "bounced email:", "--- below this line", "returned message follows",
	"your message reads", "---- start of returned message", "----- original message", "------- returned message",
	"original message header", "--- the original message", "copy of your message",
}

var headerStartRe = regexp.MustCompile(`(?im)^[ \t>]*(return-path|received):[ \t]`)

// bounceSection returns the part of a text bounce before the copy of the
// returned message, so its addresses and wording are the report's own, and
// whether such a copy follows.
func bounceSection(text string) (section string, cut bool) {
	if len(text) > 64<<10 {
		text = text[:64<<10]
	}
	lower := strings.ToLower(text)
	end := len(text)
	for _, mk := range returnedMarkers {
		if i := strings.Index(lower, mk); i >= 0 && i < end {
			// Cut at the start of the marker's line.
			if j := strings.LastIndexByte(lower[:i], '\n'); j >= 0 {
				i = j
			} else {
				i = 0
			}
			end = i
		}
	}
	if loc := headerStartRe.FindStringIndex(text[:end]); loc != nil {
		end = loc[0]
	}
	return text[:end], end < len(text) && strings.TrimSpace(text[end:]) != ""
}

// ownText returns the lines a forwarder wrote above a forwarded or quoted
// block.
func ownText(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		l := strings.ToLower(t)
		if strings.HasPrefix(t, ">") || strings.HasPrefix(l, "begin forwarded message") ||
			strings.Contains(l, "forwarded message") || strings.Contains(l, "original message") ||
			strings.HasPrefix(l, "-----") {
			break
		}
		b.WriteString(t)
		b.WriteByte('\n')
	}
	return b.String()
}

var dsnFieldsRe = regexp.MustCompile(`(?im)^[ \t>]*(final-recipient|original-recipient|x-actual-recipient):`)
var dsnStatusRe = regexp.MustCompile(`(?im)^[ \t>]*(action|status):[ \t]*\S`)

// forwardedBounce reports a bounce forwarded by a person with no request
// of their own: a forward subject whose remainder is a bounce subject, a
// forwarded RFC 3464 report, and at most a few words of the forwarder's own
// (e.g. "Forward the message."). Such a mail is the bounce it carries, not a
// question to the helpdesk. With a real note the mail stays human.
func forwardedBounce(m *threading.Mail) bool {
	loc := forwardPrefixRe.FindStringIndex(m.Subject)
	if loc == nil {
		return false
	}
	if !containsAny(strings.ToLower(m.Subject[loc[1]:]), bounceSubjectPhrases) {
		return false
	}
	if !dsnFieldsRe.MatchString(m.Text) || !dsnStatusRe.MatchString(m.Text) {
		return false
	}
	return len(strings.Fields(ownText(m.Text))) <= maxForwardNoteWords
}

// maxForwardNoteWords is the longest note above a forwarded bounce that
// still counts as "no request of their own".
const maxForwardNoteWords = 6
