package config

import (
	"strings"
	"testing"
)

// The cases of threading/command's TestSuggest: config's copy answers a
// typo as the #command parser does.
func TestClosest(t *testing.T) {
	agents := []string{"alice", "bob", "carol", "Victoria"}
	priorities := []string{"low", "normal", "high", "urgent"}
	keys := []string{"priority", "follow", "follower", "status"}
	tests := []struct {
		word  string
		cands []string
		want  string
	}{
		{"alise", agents, "alice"},
		{"ALISE", agents, "alice"},
		{"victoira", agents, "Victoria"},
		{"bob", agents, "bob"},
		{"bbo", agents, "bob"},
		{"zed", agents, ""},
		{"", agents, ""},
		{"alise", nil, ""},
		{"hihg", priorities, "high"},
		{"prio", keys, "priority"},            // unique prefix
		{"fo", keys, ""},                      // too short for a prefix, too far for an edit
		{"fol", keys, ""},                     // prefix of follow and follower
		{"ab", []string{"abc", "abd"}, "abc"}, // tie: the earlier candidate
		{"abcdefgh", []string{"abcdefxy"}, "abcdefxy"},
		{"abcdefghi", []string{"abcxyzghi"}, "abcxyzghi"},
		{"abcd", []string{"abxy"}, ""},
		{strings.Repeat("a", 65), []string{strings.Repeat("a", 64)}, ""},
		{"aaa", []string{strings.Repeat("a", 65), "aab"}, "aab"},
		{"안녕하세여", []string{"안녕하세요"}, "안녕하세요"},
		{"smtp_listn", []string{"listen", "smtp_listen", "http_listen"}, "smtp_listen"},
	}
	for _, tt := range tests {
		if got := closest(tt.word, tt.cands); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
