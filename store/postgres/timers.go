// The scheduler's due-time index (table timers).

package postgres

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"helpdesk/store/model"
)

// timerNs is t in unix nanoseconds, clamped to what fits (as the bbolt
// engine keys them).
func timerNs(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func timerKey(ticket uint64, kind string) string { return ks(ticket) + "/" + kind }

// SetTimer arms tm, replacing the ticket's timer of its kind.
func (t *Tx) SetTimer(tm model.Timer) error {
	if tm.Kind == "" {
		return errors.New("setting a timer: empty kind")
	}
	return t.put(tTimers, timerKey(tm.Ticket, tm.Kind), int64(tm.Ticket), tm.Kind, timerNs(tm.At))
}

// ClearTimer disarms the ticket's timer of kind.
func (t *Tx) ClearTimer(ticket uint64, kind string) error {
	return t.remove(tTimers, timerKey(ticket, kind), int64(ticket), kind)
}

func (t *Tx) timers(sql string, args ...any) ([]model.Timer, error) {
	rows, err := t.query(sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Timer
	for rows.Next() {
		var ticket, ns int64
		var kind string
		if err := rows.Scan(&ticket, &kind, &ns); err != nil {
			return nil, t.fail("reading timers", err)
		}
		out = append(out, model.Timer{Ticket: uint64(ticket), Kind: kind, At: time.Unix(0, ns).UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail("reading timers", err)
	}
	return out, nil
}

// TimersOf lists the ticket's armed timers, by kind.
func (t *Tx) TimersOf(ticket uint64) ([]model.Timer, error) {
	return t.timers("SELECT ticket, kind, at_ns FROM timers WHERE ticket = $1 ORDER BY kind", int64(ticket))
}

// DueTimers returns armed timers due at or before upTo, in due order.
func (t *Tx) DueTimers(upTo time.Time, limit int) ([]model.Timer, error) {
	lim := "ALL"
	if limit > 0 {
		lim = strconv.Itoa(limit)
	}
	return t.timers("SELECT ticket, kind, at_ns FROM timers WHERE at_ns <= $1 ORDER BY at_ns, ticket, kind LIMIT "+lim, timerNs(upTo))
}

// NextTimerAt is the earliest At of any armed timer.
func (t *Tx) NextTimerAt() (time.Time, bool, error) {
	ts, err := t.timers("SELECT ticket, kind, at_ns FROM timers ORDER BY at_ns, ticket, kind LIMIT 1")
	if err != nil || len(ts) == 0 {
		return time.Time{}, false, err
	}
	return ts[0].At, true, nil
}

// TimerStamp is the value SetTimerStamp last stored.
func (t *Tx) TimerStamp() (string, error) {
	v, _, err := t.metaValue("timer_stamp")
	return v, err
}

// SetTimerStamp stores it.
func (t *Tx) SetTimerStamp(stamp string) error {
	return t.put(tMeta, "timer_stamp", "timer_stamp", stamp)
}

// RearmProgress is what SetRearmProgress stored: "done stamp" in meta.
func (t *Tx) RearmProgress() (string, uint64, error) {
	v, ok, err := t.metaValue("timer_rearm")
	if err != nil || !ok || v == "" {
		return "", 0, err
	}
	n, stamp, found := strings.Cut(v, " ")
	done, perr := strconv.ParseUint(n, 10, 64)
	if !found || perr != nil {
		return "", 0, fmt.Errorf("the re-arming's progress: damaged value %q", v)
	}
	return stamp, done, nil
}

// SetRearmProgress records how far a re-arming for stamp got ("": none).
func (t *Tx) SetRearmProgress(stamp string, done uint64) error {
	if stamp == "" {
		return t.put(tMeta, "timer_rearm", "timer_rearm", "")
	}
	return t.put(tMeta, "timer_rearm", "timer_rearm", strconv.FormatUint(done, 10)+" "+stamp)
}
