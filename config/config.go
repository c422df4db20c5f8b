package config

import (
	"strings"
	"time"

	"helpdesk/config/calendar"
)

// Config is the whole helpdesk.toml.
type Config struct {
	// DataDir holds the store, spooled bodies, the control socket and,
	// without a relay, the outbox of .eml files.
	DataDir string `toml:"data_dir"`
	// Hostname names this installation in Message-IDs and EHLO.
	Hostname string `toml:"hostname"`

	SMTP      SMTP      `toml:"smtp"`
	HTTP      HTTP      `toml:"http"`
	Outbound  Outbound  `toml:"outbound"`
	Threading Threading `toml:"threading"`
	Tickets   Tickets   `toml:"tickets"`
	Commands  Commands  `toml:"commands"`
	Auth      Auth      `toml:"auth"`
	Mailboxes []Mailbox `toml:"mailbox"`
	Groups    []Group   `toml:"group"`
	Agents    []Agent   `toml:"agent"`
	Macros    []Macro   `toml:"macro"`
	// Triggers and views are written in the rule vocabulary of package
	// gateway/rules, which checks them (Checks).
	Triggers []Trigger `toml:"trigger"`
	Views    []View    `toml:"view"`
	// Automations are time-based rules (issue 14 item 5), written like
	// triggers.
	Automations []Automation `toml:"automation"`
	Webhooks    []Webhook    `toml:"webhook"`
	// Calendars are business hours for SLA targets and automations;
	// mailboxes and groups name one with calendar = "name".
	Calendars []Calendar `toml:"calendar"`
	// Organizations group customers by their address domains (SPEC 8).
	Organizations []Organization `toml:"organization"`
	// SLAs are the service-level policies (config/sla.go), first match
	// in file order.
	SLAs      []SLA     `toml:"sla"`
	Testing   Testing   `toml:"testing"`
	Reports   Reports   `toml:"reports"`
	Retention Retention `toml:"retention"`
	// Store chooses the storage engine (config/store.go).
	Store Store `toml:"store"`

	KnowledgeBase KnowledgeBase `toml:"knowledge_base"`
	Templates     Templates     `toml:"templates"`
	// Survey is the satisfaction survey after resolution (survey.go).
	Survey Survey `toml:"survey"`

	// Path is the file the config was read from ("" for defaults).
	Path string `toml:"-"`

	// idx holds the lookup maps, built by Load, Parse and BuildIndex.
	idx *index
	// cals are the calendars built by Validate, by lower-case name.
	cals map[string]*calendar.Calendar
	// lines maps key paths to lines of the text Parse read (warnings
	// name their line too).
	lines map[string]int
}

// SMTP configures the inbound SMTP server and its limits (SPEC section 10).
type SMTP struct {
	Listen              string   `toml:"listen"`
	MaxMessageBytes     Size     `toml:"max_message_bytes"`
	MaxRecipients       int      `toml:"max_recipients"`
	MaxHeaderBytes      Size     `toml:"max_header_bytes"`
	MaxLineLength       int      `toml:"max_line_length"`
	ReadTimeout         Duration `toml:"read_timeout"`
	DataTimeout         Duration `toml:"data_timeout"`
	WriteTimeout        Duration `toml:"write_timeout"`
	MaxConnections      int      `toml:"max_connections"`
	MaxConnectionsPerIP int      `toml:"max_connections_per_ip"`
	// SpoolThreshold: raw messages larger than this are kept in fsync'd
	// files under data_dir/blobs instead of inside the database.
	SpoolThreshold Size `toml:"spool_threshold"`
	// ParseBudget bounds the bytes of mail parsed (and applied) at once;
	// a mail takes its size, at most the whole budget, and waits for it
	// within its data timeout, then gets 451.
	ParseBudget Size `toml:"parse_budget"`
	// ShutdownTimeout bounds how long running sessions may finish on
	// SIGTERM before they are cut.
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	// TLSCertFile and TLSKeyFile (PEM) make the server offer STARTTLS;
	// both or neither. Read again on SIGHUP (renewals).
	TLSCertFile string `toml:"tls_cert_file"`
	TLSKeyFile  string `toml:"tls_key_file"`
	// RequireTLS refuses MAIL before STARTTLS (530).
	RequireTLS bool `toml:"require_tls"`
}

// HTTP configures the loopback observability endpoint (/metrics, /healthz).
type HTTP struct {
	Listen string `toml:"listen"` // "" disables it
	// HealthQueueAge: /healthz fails while the oldest queued outbound
	// mail waits longer than this.
	HealthQueueAge Duration `toml:"health_queue_age"`
	// HealthMinFree: /healthz fails while the file system of data_dir
	// has less free space than this (0: not checked).
	HealthMinFree Size `toml:"health_min_free"`
}

// Outbound configures how mail leaves.
type Outbound struct {
	// Relay is host:port of the smarthost; "" writes every outgoing mail as
	// an .eml file under <data_dir>/outbox/.
	Relay    string `toml:"relay"`
	Username string `toml:"username"`
	Password string `toml:"password"`
	// StartTLS is "opportunistic" (use it when offered), "required" or
	// "none".
	StartTLS string `toml:"starttls"`
	// TLSInsecureSkipVerify accepts any relay certificate (test relays).
	TLSInsecureSkipVerify bool `toml:"tls_insecure_skip_verify"`
	// TLSCAFile (PEM) adds CA certificates trusted for the relay's
	// certificate, besides the system's: a relay signed by a private CA.
	TLSCAFile    string   `toml:"tls_ca_file"`
	RetryInitial Duration `toml:"retry_initial"`
	RetryMax     Duration `toml:"retry_max"`
	GiveUpAfter  Duration `toml:"give_up_after"`
	// CommandTimeout is how long the relay may take to answer one
	// command (connect, greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA,
	// the end of data) or to take one chunk of the message.
	CommandTimeout Duration `toml:"command_timeout"`
	// MaxAttachmentBytes caps the attachments carried by one outbound mail.
	MaxAttachmentBytes Size `toml:"max_attachment_bytes"`
	// FromNameFormat builds the display name of From: {agent} is the
	// writing agent's name, {mailbox} the mailbox name.
	FromNameFormat string `toml:"from_name_format"`
	DKIMDomain     string `toml:"dkim_domain"`
	DKIMSelector   string `toml:"dkim_selector"`
	DKIMKeyFile    string `toml:"dkim_private_key_file"`
}

// Threading configures SPEC section 3.
type Threading struct {
	// TagPrefix is what stands before the number in the subject tag:
	// "#" gives "[#123]", "Certs #" gives "[Certs #123]".
	TagPrefix string `toml:"tag_prefix"`
	// TokenSeparator joins mailbox and token: "+" or "-".
	TokenSeparator string `toml:"token_separator"`
	// IgnorePlusTags makes "ken+x@" the same person as "ken@".
	IgnorePlusTags bool `toml:"ignore_plus_tags"`
	// SecretGracePeriod keeps a rotated-out token secret verifying.
	SecretGracePeriod Duration `toml:"secret_grace_period"`
	// Acknowledgements are bare replies that do not reopen a ticket.
	Acknowledgements []string `toml:"acknowledgements"`
	// CustomerCC: customers' CC lines add ticket CCs.
	CustomerCC bool `toml:"customer_cc"`
	// ReplyMarker starts every notification to staff; staff text is cut
	// there.
	ReplyMarker string `toml:"reply_marker"`
	// MaxReceived: more Received headers than this is a loop.
	MaxReceived int `toml:"max_received"`
	// FanoutLimitPerHour: more comments an hour from one address on one
	// ticket stop fan-out for that address and flag the ticket.
	FanoutLimitPerHour int `toml:"fanout_limit_per_hour"`
}

// Tickets configures the lifecycle (SPEC section 7).
type Tickets struct {
	AutoCloseAfter Duration `toml:"auto_close_after"`
	// ParentBlocksResolve: a parent cannot be resolved while a child is open.
	ParentBlocksResolve bool `toml:"parent_blocks_resolve"`
	// AckPerSenderPerHour caps acknowledgements per sender address.
	AckPerSenderPerHour int `toml:"ack_per_sender_per_hour"`
	// AckPerIPPerHour caps acknowledgements caused by one SMTP client
	// address (reflection through forged senders). Trusted relays are
	// exempt: behind a front MTA every mail comes from its address, so
	// only AckPerHour and the per-sender limit apply there.
	AckPerIPPerHour int `toml:"ack_per_ip_per_hour"`
	// AckPerHour caps acknowledgements in total.
	AckPerHour int `toml:"ack_per_hour"`
	// MaxOutboundAttachments is not here: see [outbound].
}

// Commands configures SPEC section 4.
type Commands struct {
	// Confirm is "errors" (transcript only on failure) or "always".
	Confirm string `toml:"confirm"`
	// LeakGuardWords: a staff mail to end users or collaborators is held
	// when it shares a run of this many words with a private note or
	// another side thread of its ticket (case, white space, punctuation
	// and quote markers ignored), or a run of 3 × this many Han, Kana or
	// Hangul-syllable characters (text written without spaces is one
	// "word"). Shorter runs never hold a mail: they are too common in
	// ordinary replies.
	LeakGuardWords int `toml:"leak_guard_words"`
}

// Auth configures SPEC section 5.
type Auth struct {
	Staff              []string `toml:"staff"`
	Resolver           string   `toml:"resolver"`
	DNSTimeout         Duration `toml:"dns_timeout"`
	TrustedAuthservIDs []string `toml:"trusted_authserv_ids"`
	TrustedRelays      []string `toml:"trusted_relays"`
	// NoticeInterval rate-limits the notice to a staff address whose
	// mail failed authentication.
	NoticeInterval Duration `toml:"notice_interval"`
	// DNSCache keeps DKIM keys, DMARC records and "no such name" answers
	// this long ("0s" disables it).
	DNSCache Duration `toml:"dns_cache"`
	// StaffTokenMaxAge is the lifetime of a staff member's reply token as
	// a credential (the "token" check): an older token, or one whose age
	// is unknown, still threads the mail but authenticates no one. "0s"
	// means no limit.
	StaffTokenMaxAge Duration `toml:"staff_token_max_age"`
}

// Mailbox is one support address.
type Mailbox struct {
	Address string `toml:"address"`
	Name    string `toml:"name"`
	Group   string `toml:"group"`
	// Language of the customer mail when the mail's text does not tell
	// (Hangul → ko); "en" when unset.
	Language string `toml:"language"`
	// Calendar names the business hours of its tickets (a group's
	// calendar wins); "" is 24/7.
	Calendar string `toml:"calendar"`
}

// KnowledgeBase is the folder of Markdown articles the acknowledgement
// suggests from (SPEC 7). Read at start and on SIGHUP.
type KnowledgeBase struct {
	Dir string `toml:"dir"` // "" disables suggestions
	// MinScore is the BM25 score an article needs to be suggested
	// (0: the built-in default).
	MinScore float64 `toml:"min_score"`
}

// Templates configures the texts of automatic mail.
type Templates struct {
	// Dir overrides the built-in customer templates:
	// <mailbox>/<lang>/<name>.txt, then <lang>/<name>.txt.
	Dir string `toml:"dir"`
	// StaffLanguage is the one language of staff notifications.
	StaffLanguage string `toml:"staff_language"`
}

// Group is a team of agents.
type Group struct {
	Name string `toml:"name"`
	// AutoAssign assigns new tickets round-robin to available agents.
	AutoAssign bool `toml:"auto_assign"`
	// Calendar names the business hours of the group's tickets; it wins
	// over the mailbox's.
	Calendar string `toml:"calendar"`
}

// Reports configures reports (SPEC 9): their days, weeks (from Monday)
// and months are those of TimeZone.
type Reports struct {
	// TimeZone is an IANA zone name; "" or "UTC" is UTC.
	TimeZone string `toml:"time_zone"`
}

// Location is the reports' time zone (UTC when unset or invalid;
// Validate reports an invalid one).
func (r Reports) Location() *time.Location {
	if r.TimeZone == "" || strings.EqualFold(r.TimeZone, "local") {
		return time.UTC
	}
	l, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		return time.UTC
	}
	return l
}

// Retention says how long what piles up in the store is kept (issue 17
// item 4); time is the ticket clock's.
type Retention struct {
	// SentOutbound: sent and given-up outbound mail (and its .eml copy
	// in data_dir/outbox) is pruned this long after it settled.
	SentOutbound Duration `toml:"sent_outbound"`
	// Quarantine: quarantined mail is deleted this long after it arrived
	// (release is possible until then).
	Quarantine Duration `toml:"quarantine"`
	// RawAfterClosed, when set, drops the raw mail of tickets closed
	// this long ago; comment texts and attachments' names, types and
	// sizes stay, the attachments' bytes (inside the raw mail) go.
	RawAfterClosed Duration `toml:"raw_after_closed"`
	// Compact, when set, compacts the store this often (helpdesk compact).
	Compact Duration `toml:"compact"`
}

// Testing holds settings for trying the daemon out and black-box tests.
type Testing struct {
	// Clock is "wall" (the default) or "manual": ticket time (auto-close,
	// rate-limit windows, every time-based rule) then stands still except
	// when `helpdesk clock set|advance` moves it. Only on loopback
	// listen addresses.
	Clock string `toml:"clock"`
	// RearmChunk, test-only, is how many tickets one write of a
	// re-arming of every ticket (new timer settings) visits; 0: the
	// default (500). Black-box tests set it small so that a re-arming
	// of a few tickets takes several writes, and a kill can land
	// between them (HELPDESK_TEST_HOLD=timers-rearm).
	RearmChunk int `toml:"rearm_chunk"`
}

// Clock modes of [testing] clock.
const (
	ClockWall   = "wall"
	ClockManual = "manual"
)

// Calendar is one [[calendar]]: business hours in a time zone, with
// holidays (see config/calendar for the arithmetic).
type Calendar struct {
	Name string `toml:"name"`
	// TimeZone is an IANA zone name, e.g. "Asia/Seoul".
	TimeZone string `toml:"time_zone"`
	// Hours are lines of weekly hours: "mon-fri 09:00-12:00, 13:00-18:00",
	// "sat 22:00-06:00" (a shift over midnight).
	Hours []string `toml:"hours"`
	// Holidays are dates "YYYY-MM-DD" on which no shift begins.
	Holidays []string `toml:"holidays"`
	// HolidaysFile is an iCalendar file whose all-day events are
	// holidays too (relative to the working directory, like data_dir).
	HolidaysFile string `toml:"holidays_file"`
}

// Agent is a staff member.
type Agent struct {
	Email   string   `toml:"email"`
	Name    string   `toml:"name"`
	Role    string   `toml:"role"` // agent | light | admin
	Groups  []string `toml:"groups"`
	Aliases []string `toml:"aliases"`
}

// Macro is a named bundle of commands and a reply text (#macro name).
type Macro struct {
	Name     string   `toml:"name"`
	Commands []string `toml:"commands"`
	Text     string   `toml:"text"`
}

// Trigger is a rule run after every ticket update (SPEC 7, issue 15):
// when its conditions hold, its actions (mail command lines) apply and
// Notify (staff addresses, "assignee", "group") get a mail with Text.
type Trigger struct {
	Name    string   `toml:"name"`
	All     []string `toml:"all"`
	Any     []string `toml:"any"`
	Actions []string `toml:"actions"`
	Notify  []string `toml:"notify"`
	Text    string   `toml:"text"`
	// Webhook names a [[webhook]] to POST to when the trigger fires.
	Webhook string `toml:"webhook"`
	// RequesterTemplate names a template of [templates] dir
	// (<lang>/<name>.txt) mailed to the ticket's requester, in the
	// customer's language, when the trigger fires.
	RequesterTemplate string `toml:"requester_template"`
}

// Automation is a time-based rule (SPEC 7, issue 14 item 5): the keys of
// a trigger, its conditions looked at whenever the ticket changes and at
// the instants its time conditions ("created more than 24h ago", "...
// ago in business time") come true; it fires at most once per condition
// epoch. Package gateway/rules checks and compiles it.
type Automation Trigger

// View is a named list of tickets (#list NAME, helpdesk tickets --view):
// the tickets not closed whose conditions hold, in the order Sort says.
type View struct {
	Name string   `toml:"name"`
	All  []string `toml:"all"`
	Any  []string `toml:"any"`
	Sort string   `toml:"sort"`
}

// Roles.
const (
	RoleAgent = "agent"
	RoleLight = "light"
	RoleAdmin = "admin"
)

// Default returns the configuration every key falls back to.
func Default() *Config {
	return &Config{
		DataDir:  "./data",
		Hostname: "localhost",
		SMTP: SMTP{
			Listen:              "127.0.0.1:2525",
			MaxMessageBytes:     25 << 20,
			MaxRecipients:       100,
			MaxHeaderBytes:      64 << 10,
			MaxLineLength:       10 << 10,
			ReadTimeout:         Duration(5 * time.Minute),
			DataTimeout:         Duration(10 * time.Minute),
			WriteTimeout:        Duration(5 * time.Minute),
			MaxConnections:      500,
			MaxConnectionsPerIP: 50,
			SpoolThreshold:      256 << 10,
			ParseBudget:         16 << 20,
			ShutdownTimeout:     Duration(30 * time.Second),
		},
		HTTP: HTTP{Listen: "127.0.0.1:2526", HealthQueueAge: Duration(time.Hour), HealthMinFree: 1 << 30},
		Outbound: Outbound{
			StartTLS:           "opportunistic",
			RetryInitial:       Duration(time.Minute),
			RetryMax:           Duration(time.Hour),
			GiveUpAfter:        Duration(5 * 24 * time.Hour),
			CommandTimeout:     Duration(30 * time.Second),
			MaxAttachmentBytes: 10 << 20,
			FromNameFormat:     "{agent} ({mailbox})",
		},
		Threading: Threading{
			TagPrefix:          "#",
			TokenSeparator:     "+",
			SecretGracePeriod:  Duration(30 * 24 * time.Hour),
			Acknowledgements:   []string{"thanks", "thank you", "thanks!", "thank you!", "감사합니다", "고맙습니다"},
			CustomerCC:         true,
			ReplyMarker:        "##- Reply above this line -##",
			MaxReceived:        50,
			FanoutLimitPerHour: 10,
		},
		Tickets: Tickets{
			AutoCloseAfter:      Duration(5 * 24 * time.Hour),
			ParentBlocksResolve: true,
			AckPerSenderPerHour: 5,
			AckPerIPPerHour:     20,
			AckPerHour:          200,
		},
		Commands:  Commands{Confirm: "errors", LeakGuardWords: 8},
		Templates: Templates{StaffLanguage: "en"},
		Survey:    Survey{Delay: Duration(DefaultSurveyDelay)},
		Testing:   Testing{Clock: ClockWall},
		Store:     Store{Engine: EngineBolt},
		Retention: Retention{SentOutbound: Duration(30 * 24 * time.Hour), Quarantine: Duration(30 * 24 * time.Hour)},
		Auth: Auth{
			Staff:          []string{"dmarc", "authres"},
			DNSTimeout:     Duration(5 * time.Second),
			TrustedRelays:  []string{"127.0.0.1/32"},
			NoticeInterval: Duration(time.Hour),
			DNSCache:       Duration(5 * time.Minute),
			// 30 days: a notification a month old is still answered.
			StaffTokenMaxAge: Duration(30 * 24 * time.Hour),
		},
	}
}
