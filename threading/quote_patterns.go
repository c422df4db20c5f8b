package threading

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Patterns of quoted history, by mail client and language. The sources are
// the talon corpus (mailgun/talon), the Korean corpus and what Outlook,
// Gmail, Apple Mail, Thunderbird, Yahoo, Naver and Daum write in their
// localized versions.

// originalMessageRe matches the separator line Outlook, AOL, Yahoo, Zimbra
// and Naver put above unquoted history ("-----Original Message-----").
var originalMessageRe = regexp.MustCompile(`(?i)^[-_=*\s]*[-_=*]{2,}\s*(` +
	`original message|original|ursprüngliche nachricht|originalnachricht|nachricht im original|` +
	`message d'origine|message original|mensaje original|messaggio originale|mensagem original|` +
	`oorspronkelijk bericht|origineel bericht|ursprungligt meddelande|opprinnelig melding|` +
	`oprindelig meddelelse|alkuperäinen viesti|wiadomość oryginalna|původní zpráva|` +
	`исходное сообщение|原始邮件|原始郵件|元のメッセージ|원본 메시지|원래 메시지|원본 메일` +
	`)\s*[-_=*]{2,}[-_=*\s]*$`)

// separatorRe matches a line that only separates (Outlook's underscores).
var separatorRe = regexp.MustCompile(`^\s*[-_=*]{4,}\s*$`)

// forwardDashRe and forwardBeginRe match the line that starts an inline
// forwarded message (Gmail, Thunderbird, Yahoo, Zimbra; Apple Mail).
var forwardDashRe = regexp.MustCompile(`(?i)^\s*-{2,}\s*(` +
	`forwarded message|forwarded e-?mail|forward message|weitergeleitete nachricht|message transféré|` +
	`message réexpédié|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht|mensagem encaminhada|` +
	`mensagem reencaminhada|vidarebefordrat meddelande|videresendt melding|videresendt meddelelse|` +
	`välitetty viesti|przekazana wiadomość|přeposlaná zpráva|пересылаемое сообщение|` +
	`перенаправленное сообщение|전달된 메시지|전달된 메일|전달 메일|転送されたメッセージ|転送メッセージ|` +
	`转发的邮件|轉寄的郵件|已转发邮件` +
	`)\s*:?\s*-*\s*$`)

var forwardBeginRe = regexp.MustCompile(`(?i)^\s*(` +
	`begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|` +
	`début du message transféré|inicio del mensaje reenviado|comienzo del mensaje reenviado|` +
	`inizio messaggio inoltrato|begin doorgestuurd bericht|início da mensagem reencaminhada|` +
	`início da mensagem encaminhada|vidarebefordrat brev|전달된 메시지|전달된 메일|` +
	`転送されたメッセージ|以下是转发的邮件|пересылаемое сообщение` +
	`)\s*[:：]?\s*$`)

func isForwardMarker(t string) bool {
	// Cheap checks first: this runs on every line of every mail.
	t = strings.TrimSpace(t)
	switch {
	case t == "":
		return false
	case t[0] == '-':
		return forwardDashRe.MatchString(t)
	case len(t) <= 64 && forwardBeginFirst(t): // every phrase of forwardBeginRe is shorter
		return forwardBeginRe.MatchString(t)
	}
	return false
}

// forwardBeginFirst reports whether t starts with a letter one of
// forwardBeginRe's phrases starts with (case-insensitively): most lines
// are rejected here without running the expression.
func forwardBeginFirst(t string) bool {
	r, _ := utf8.DecodeRuneInString(t)
	switch unicode.ToLower(r) {
	case 'b', 'a', 'd', 'i', 'c', 'v', '전', '転', '以', 'п':
		return true
	}
	return false
}

// forwardSubjectRe matches subjects of forwarded mail: Fwd:, FW:, WG:
// (German), TR: (French), RV: (Spanish), ENC: (Portuguese), Doorst:
// (Dutch), VL: (Finnish), 전달: (Korean), 转发/轉寄/転送.
var forwardSubjectRe = regexp.MustCompile(`(?i)^\s*(?:\[[^\]]{0,40}\]\s*)?(?:fwd?|wg|tr|rv|enc|doorst|vl|전달|转发|轉寄|転送)\s*(?:\[\d+\])?\s*[:：]`)

// attributionVerbs end the line a client writes above quoted text
// ("On ..., X wrote:"). Lowercase, compared with the trimmed line.
var attributionVerbs = []string{
	"wrote:", "wrote :", "writes:", "wrote：",
	"a écrit :", "a écrit:", "a ecrit :", "a ecrit:", "a écrit :",
	"schrieb:", "schrieb :", "schreef:", "escribió:", "escribio:", "ha scritto:",
	"skrev:", "skrev følgende:", "kirjoitti:", "napisał:", "napisał(a):", "napsal:",
	"napsal(a):", "написал:", "написала:", "написал(а):", "пишет:", "yazdı:",
	"escreveu:", "írta:", "a scris:", "έγραψε:", "kirjutas:", "rašė:", "je napisao:",
	"je napisal:", "đã viết:", "כתב:", "كتب:",
	"작성:", "씀:", "작성：",
	"写道:", "写道：", "寫道:", "寫道：", "が書きました:", "が書きました：",
}

// midVerbs are attribution verbs that stand before the author's name.
var midVerbs = []string{" schrieb ", " wrote ", " a écrit ", " escribió ", " ha scritto ", " skrev ", " schreef "}

// attributionStartRe matches how an attribution begins, for attributions a
// client wrapped over two or three lines.
var attributionStartRe = regexp.MustCompile(`(?i)^(?:-{2,}\s*)?(?:on|le|am|el|il|op|den|em|w dniu|dne|в|el día|\d)(?:\s|[^\p{L}]|$)`)

var (
	emailRe     = regexp.MustCompile(`[^\s<>"'\[\](),;:]+@[^\s<>"'\[\](),;:]+\.[^\s<>"'\[\](),;:]+`)
	timeOrYear  = regexp.MustCompile(`\d{1,2}:\d{2}|(?:19|20)\d{2}|년|年`)
	digitRe     = regexp.MustCompile(`\d`)
	dashedStart = regexp.MustCompile(`^-{2,}\s*\S`)
)

// isAttribution reports whether a (trimmed) line ends an attribution.
func isAttribution(t string) bool {
	if t == "" || len(t) > 400 {
		return false
	}
	rt := strings.TrimRight(t, " \t")
	if !strings.HasSuffix(rt, ":") && !strings.HasSuffix(rt, "：") {
		return false // every attribution ends with a colon (cheap check first)
	}
	lt := strings.ToLower(rt)
	for _, v := range attributionVerbs {
		if strings.HasSuffix(lt, v) {
			return true
		}
	}
	// Thunderbird in German and others put the verb before the name:
	// "Am 07.12.26 um 15:04 schrieb Certs Support:".
	if attributionStartRe.MatchString(rt) && timeOrYear.MatchString(rt) {
		for _, v := range midVerbs {
			if strings.Contains(lt, v) {
				return true
			}
		}
	}
	// "2012年4月2日 18:26 Megan One <x@example.com>:" and similar.
	if strings.HasSuffix(lt, ":") || strings.HasSuffix(lt, "：") {
		return emailRe.MatchString(t) && digitRe.MatchString(t)
	}
	return false
}

type hdrKind int

const (
	hdrNone hdrKind = iota
	hdrFrom
	hdrDate
	hdrTo
	hdrCc
	hdrSubject
	hdrOther
)

// headerKeys are the field names of a quoted header block, localized as
// Outlook and other clients write them.
var headerKeys = map[string]hdrKind{}

func init() {
	add := func(k hdrKind, names ...string) {
		for _, n := range names {
			headerKeys[n] = k
		}
	}
	add(hdrFrom, "from", "von", "de", "van", "da", "från", "fra", "od", "от", "보낸 사람", "보낸사람",
		"보낸이", "差出人", "发件人", "發件人", "寄件人", "寄件者", "lähettäjä", "feladó", "kimden",
		"expéditeur", "remetente", "mittente", "afzender", "absender", "nadawca", "odesílatel")
	add(hdrDate, "sent", "date", "datum", "gesendet", "envoyé", "enviado", "enviada", "fecha",
		"data", "inviato", "verzonden", "skickat", "sendt", "lähetetty", "wysłano", "odesláno",
		"отправлено", "дата", "보낸 날짜", "보낸날짜", "날짜", "送信日時", "日付", "发送时间",
		"發送時間", "日期", "時間", "tarih", "gönderildi", "elküldve", "sent at")
	add(hdrTo, "to", "an", "à", "a", "para", "aan", "till", "til", "do", "komu", "кому",
		"받는 사람", "받는사람", "받는이", "宛先", "收件人", "收件者", "vastaanottaja", "címzett",
		"kime", "destinataire", "destinatario", "destinatários")
	add(hdrCc, "cc", "kopie", "참조", "抄送", "副本", "копия", "kopio", "kopia", "másolat", "bilgi")
	add(hdrSubject, "subject", "betreff", "objet", "asunto", "oggetto", "onderwerp", "ämne",
		"emne", "aihe", "temat", "předmět", "тема", "제목", "件名", "主题", "主旨", "konu",
		"assunto", "tárgy")
	add(hdrOther, "reply-to", "bcc", "importance", "priority", "wichtigkeit", "중요도", "첨부",
		"attachments", "anlagen", "pièces jointes", "숨은 참조")
}

// headerField parses "Key: value" of a quoted header block ("De : x" and
// bold "*From:*" included).
func headerField(t string) (hdrKind, string) {
	t = strings.TrimSpace(t)
	t = strings.TrimLeft(t, "*")
	c := strings.IndexByte(t, ':')
	if fc := strings.Index(t, "："); fc >= 0 && (c < 0 || fc < c) {
		c = fc
		t = t[:c] + ":" + t[c+len("："):]
	}
	if c <= 0 || c > 40 {
		return hdrNone, ""
	}
	key := strings.ToLower(strings.TrimSpace(strings.Trim(t[:c], "* \t")))
	k := headerKeys[key]
	if k == hdrNone {
		return hdrNone, ""
	}
	return k, strings.TrimSpace(strings.Trim(t[c+1:], "*"))
}
