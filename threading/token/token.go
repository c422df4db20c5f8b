// Package token signs and verifies reply tokens: the plus-address part of
// support+<token>@example.com that every outbound mail carries in Reply-To
// (SPEC section 2). A token names ticket, thread and recipient and carries
// an HMAC-SHA256 truncated to 80 bits, keyed with a per-installation secret.
// Tokens are lowercase base32 so mail systems that lowercase local parts
// keep them valid, and short enough that the local part stays within 64
// characters (RFC 5321 section 4.5.3.1.1).
//
// A token also carries when it was issued, in whole hours since its key was
// created (FlagTimed), so a staff token can be given a lifetime (SPEC 5,
// auth.staff_token_max_age). Tokens signed before that field existed have
// no issue time: they still verify (as thread keys they never expire), with
// a zero Issued.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MACBytes is the length of the truncated HMAC: 80 bits.
const MACBytes = 10

// Flags describe the notification a token was issued with.
const (
	// FlagPrivate marks a token sent with a private note or side-thread
	// notification: a staff reply to it defaults to private.
	FlagPrivate uint8 = 1 << iota
	// FlagStaff marks a token issued to a staff member.
	FlagStaff
	// FlagTimed marks a token whose payload ends with its issue time
	// (hours since its key was created). Verify strips it and fills
	// Token.Issued instead.
	FlagTimed
	// FlagSurvey marks the token of a satisfaction survey (SPEC 7): a
	// reply to it is a rating, never a comment that reopens the ticket.
	FlagSurvey
)

// IssuedUnit is the resolution of the issue time a token carries. The
// time is rounded down, so an age computed from it is never too young:
// a token may count as up to one unit older than it is, never younger.
const IssuedUnit = time.Hour

// Token is what a reply address identifies.
type Token struct {
	Ticket uint64 // ticket id
	Thread uint32 // 0 = main thread, else a side thread
	Party  uint64 // the recipient the token was issued to (store user id)
	Seq    uint32 // the ticket's comment sequence when the mail was sent
	Flags  uint8
	// Issued is when the token was signed, rounded down to IssuedUnit
	// (zero: a token from before issue times, whose age is unknown). Sign
	// uses the keyring's clock when it is zero.
	Issued time.Time
}

// Private reports whether the token was issued with a private notification.
func (t Token) Private() bool { return t.Flags&FlagPrivate != 0 }

// Survey reports whether the token was issued with a satisfaction survey.
func (t Token) Survey() bool { return t.Flags&FlagSurvey != 0 }

// Key is one signing secret. Key IDs let verification find the secret at
// once; retired keys still verify until their grace period ends.
type Key struct {
	ID      uint8     `json:"id"`
	Secret  []byte    `json:"secret"`
	Created time.Time `json:"created"`
	// Retired is when a newer key replaced this one (zero: current).
	Retired time.Time `json:"retired,omitempty"`
}

// Keyring signs with the newest key and verifies with any key that is
// current or retired less than Grace ago.
type Keyring struct {
	Keys  []Key
	Grace time.Duration
	Now   func() time.Time
}

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors returned by Verify.
var (
	ErrMalformed  = errors.New("token: malformed")
	ErrUnknownKey = errors.New("token: unknown or expired key")
	ErrBadMAC     = errors.New("token: signature mismatch")
)

func (k *Keyring) current() (Key, bool) {
	var best Key
	found := false
	for _, key := range k.Keys {
		if key.Retired.IsZero() && (!found || key.Created.After(best.Created)) {
			best, found = key, true
		}
	}
	return best, found
}

func mac(secret, payload []byte) []byte {
	p := macPool(secret)
	h := p.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte("helpdesk-token-v1\x00"))
	h.Write(payload)
	sum := h.Sum(make([]byte, 0, sha256.Size))[:MACBytes]
	p.Put(h)
	return sum
}

// HMAC states are reused per secret: a fresh hmac.New hashes the key's
// inner and outer pads again for every token, a reset one starts from
// saved states (each new ticket signs two tokens inside the store write).
// The list holds the few secrets of a key ring; it is replaced, never
// changed, so lookups take no lock.
var (
	macKeysMu sync.Mutex
	macKeys   atomic.Pointer[[]macKey]
)

// maxMACKeys bounds the remembered secrets (a ring holds the current key
// and the retired ones still in their grace period).
const maxMACKeys = 8

type macKey struct {
	secret string
	pool   *sync.Pool
}

func macPool(secret []byte) *sync.Pool {
	if l := macKeys.Load(); l != nil {
		for _, k := range *l {
			if k.secret == string(secret) {
				return k.pool
			}
		}
	}
	macKeysMu.Lock()
	defer macKeysMu.Unlock()
	var keys []macKey
	if l := macKeys.Load(); l != nil {
		keys = *l
	}
	for _, k := range keys {
		if k.secret == string(secret) {
			return k.pool
		}
	}
	s := string(secret)
	p := &sync.Pool{New: func() any { return hmac.New(sha256.New, []byte(s)) }}
	keys = append(keys[max(0, len(keys)-maxMACKeys+1):len(keys):len(keys)], macKey{secret: s, pool: p})
	macKeys.Store(&keys)
	return p
}

// Sign encodes and signs t with the current key, with t.Issued (the
// keyring's clock when zero) as its issue time. It panics if the keyring
// has no current key: the store creates one on first start.
func (k *Keyring) Sign(t Token) string {
	key, ok := k.current()
	if !ok {
		panic("token: keyring has no current key")
	}
	issued := t.Issued
	if issued.IsZero() {
		issued = k.now()
	}
	// Hours since the key was created: 3 bytes for 239 years. A clock
	// before the key's creation counts as its creation.
	hours := uint64(0)
	if d := issued.Sub(key.Created); d > 0 {
		hours = uint64(d / IssuedUnit)
	}
	buf := make([]byte, 0, 2+5*binary.MaxVarintLen64+MACBytes)
	buf = append(buf, key.ID, t.Flags&^FlagTimed|FlagTimed)
	buf = binary.AppendUvarint(buf, t.Ticket)
	buf = binary.AppendUvarint(buf, uint64(t.Thread))
	buf = binary.AppendUvarint(buf, t.Party)
	buf = binary.AppendUvarint(buf, uint64(t.Seq))
	buf = binary.AppendUvarint(buf, hours)
	buf = append(buf, mac(key.Secret, buf)...)
	return strings.ToLower(enc.EncodeToString(buf))
}

func (k *Keyring) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Verify decodes s and checks its signature. Anything that does not
// verify is an error; callers treat the token as absent.
func (k *Keyring) Verify(s string) (Token, error) {
	var t Token
	if len(s) < 16 || len(s) > 60 {
		return t, ErrMalformed
	}
	b, err := enc.DecodeString(strings.ToUpper(s))
	if err != nil || len(b) < 2+4+MACBytes || !strings.EqualFold(enc.EncodeToString(b), s) {
		// The last check refuses encodings with stray trailing bits, so
		// one token has exactly one spelling (up to case).
		return t, ErrMalformed
	}
	payload, sum := b[:len(b)-MACBytes], b[len(b)-MACBytes:]
	now := k.now
	var key *Key
	for i := range k.Keys {
		kk := &k.Keys[i]
		if kk.ID != payload[0] {
			continue
		}
		if !kk.Retired.IsZero() && now().Sub(kk.Retired) > k.Grace {
			return t, ErrUnknownKey
		}
		key = kk
		break
	}
	if key == nil {
		return t, ErrUnknownKey
	}
	if !hmac.Equal(mac(key.Secret, payload), sum) {
		return t, ErrBadMAC
	}
	t.Flags = payload[1] &^ FlagTimed
	timed := payload[1]&FlagTimed != 0
	rest := payload[2:]
	vals := make([]uint64, 4, 5)
	if timed {
		vals = vals[:5]
	}
	for i := range vals {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return Token{}, ErrMalformed
		}
		vals[i], rest = v, rest[n:]
	}
	if len(rest) != 0 || vals[1] > 1<<31 || vals[3] > 1<<31 {
		return Token{}, ErrMalformed
	}
	t.Ticket, t.Thread, t.Party, t.Seq = vals[0], uint32(vals[1]), vals[2], uint32(vals[3])
	if timed {
		if vals[4] > 1<<24 { // beyond 1,900 years: no clock signed that
			return Token{}, ErrMalformed
		}
		t.Issued = key.Created.Add(time.Duration(vals[4]) * IssuedUnit)
	}
	return t, nil
}

// Address builds local+sep+token@domain from a mailbox address.
func Address(mailbox, sep, tok string) string {
	at := strings.LastIndexByte(mailbox, '@')
	if at < 0 {
		return mailbox
	}
	return mailbox[:at] + sep + tok + mailbox[at:]
}
