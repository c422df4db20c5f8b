package survey

import (
	"testing"
	"time"

	"helpdesk/store/model"
)

func TestParseRating(t *testing.T) {
	for _, c := range []struct {
		text    string
		score   int
		comment string
	}{
		{"5", 5, ""},
		{"  4\n", 4, ""},
		{"1", 1, ""},
		{"3 - it took a while", 3, "it took a while"},
		{"5/5 great service", 5, "great service"},
		{"5점", 5, ""},
		{"4점 빨랐어요", 4, "빨랐어요"},
		{"5!\nThanks a lot, Victoria.", 5, "Thanks a lot, Victoria."},
		{"good", 5, ""},
		{"Good! Fast answer.", 5, "Fast answer."},
		{"GOOD", 5, ""},
		{"bad", 1, ""},
		{"Bad, nobody read my mail", 1, "nobody read my mail"},
		{"👍", 5, ""},
		{"👍🏻 thanks", 5, "thanks"},
		{"👎", 1, ""},
		{"좋아요", 5, ""},
		{"좋아요! 빠른 답변 감사합니다", 5, "빠른 답변 감사합니다"},
		{"만족", 5, ""},
		{"만족합니다", 5, ""},
		{"최고", 5, ""},
		{"최고예요~ 감사합니다", 5, "감사합니다"},
		{"보통", 3, ""},
		{"보통이에요. 조금 느렸어요", 3, "조금 느렸어요"},
		{"별로", 1, ""},
		{"별로였어요 답변이 늦었어요", 1, "답변이 늦었어요"},
		{"불만족", 1, ""},
		{"불만족입니다", 1, ""},
		{"나빠요", 1, ""},
		// The survey templates' own words, and intensifiers before a
		// rating word (the Korean survey offers "5(매우 만족)").
		{"매우 만족", 5, ""},
		{"매우 만족합니다. 친절했어요", 5, "친절했어요"},
		{"매우 불만족", 1, ""},
		{"정말 좋아요!", 5, ""},
		{"아주 별로였어요 - 느렸어요", 1, "느렸어요"},
		{"excellent", 5, ""},
		{"Excellent, thank you", 5, "thank you"},
		{"poor", 1, ""},
		{"Very good", 5, ""},
		{"really bad. Nobody answered", 1, "Nobody answered"},
		{"very poor", 1, ""},
		// No recognisable rating: the whole text is the comment.
		{"매우 만족하지 않습니다", 0, "매우 만족하지 않습니다"},
		{"very 5", 0, "very 5"},
		{"very much so", 0, "very much so"},
		{"so so", 0, "so so"},
		{"not bad", 0, "not bad"},
		{"poorly explained", 0, "poorly explained"},
		{"", 0, ""},
		{"Thanks for your help", 0, "Thanks for your help"},
		{"10", 0, "10"},
		{"0", 0, "0"},
		{"6", 0, "6"},
		{"3.5", 0, "3.5"},
		{"goodness me", 0, "goodness me"},
		{"not good", 0, "not good"},
		{"만족하지 않습니다", 0, "만족하지 않습니다"},
		{"만족 못 했어요", 0, "만족 못 했어요"},
		{"감사합니다", 0, "감사합니다"},
	} {
		got := ParseRating(c.text)
		if got.Score != c.score || got.Comment != c.comment {
			t.Errorf("ParseRating(%q) = %d %q, want %d %q", c.text, got.Score, got.Comment, c.score, c.comment)
		}
		if got.Bad() != (c.score > 0 && c.score <= 2) {
			t.Errorf("ParseRating(%q).Bad() = %v", c.text, got.Bad())
		}
	}
}

func TestDue(t *testing.T) {
	res := time.Date(2027, 1, 4, 10, 0, 0, 0, time.UTC)
	other := res.Add(-time.Hour)
	day := 24 * time.Hour
	base := func() *model.Ticket {
		r := res
		return &model.Ticket{Status: model.StatusResolved, ResolvedAt: &r, Tags: []string{}}
	}
	for _, c := range []struct {
		name string
		edit func(*model.Ticket)
		ok   bool
	}{
		{"resolved", func(*model.Ticket) {}, true},
		{"closed after resolution", func(tk *model.Ticket) { tk.Status = model.StatusClosed }, true},
		{"open again", func(tk *model.Ticket) { tk.Status, tk.ResolvedAt = model.StatusOpen, nil }, false},
		{"closed without resolution", func(tk *model.Ticket) { tk.Status, tk.ResolvedAt = model.StatusClosed, nil }, false},
		{"spam", func(tk *model.Ticket) { tk.Status, tk.Tags = model.StatusClosed, []string{"spam"} }, false},
		{"merged", func(tk *model.Ticket) { tk.MergedInto = 7 }, false},
		{"machine requester", func(tk *model.Ticket) { tk.NoAutoMail = true }, false},
		{"already surveyed for this resolution", func(tk *model.Ticket) { r := res; tk.SurveyFor = &r }, false},
		{"surveyed for an earlier resolution", func(tk *model.Ticket) { tk.SurveyFor = &other }, true},
	} {
		tk := base()
		c.edit(tk)
		at, ok := Due(tk, day)
		if ok != c.ok || ok && !at.Equal(res.Add(day)) {
			t.Errorf("%s: Due = %v %v, want ok=%v at %v", c.name, at, ok, c.ok, res.Add(day))
		}
	}
}
