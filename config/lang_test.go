package config

import "testing"

// ValidLang is the one language-code check of templates.language,
// template folder names and #customer lang.
func TestValidLang(t *testing.T) {
	for s, want := range map[string]bool{
		"en": true, "ko": true, "pt-br": true, "zh-hant": true, "fil": true,
		"": false, "e": false, "engl": false, "EN": false, "pt-": false, "pt-b": false,
		"pt-brazil": false, "en_us": false, "é": false, "-br": false,
	} {
		if got := ValidLang(s); got != want {
			t.Errorf("ValidLang(%q) = %v, want %v", s, got, want)
		}
	}
}
