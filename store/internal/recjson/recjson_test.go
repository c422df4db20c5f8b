package recjson

import (
	"encoding/json"
	"testing"
)

// Encode is json.Marshal's record with <, > and & kept as themselves and
// no newline, and a buffer reused for a shorter record holds only it.
func TestEncodeKeepsHTMLAndDropsTheNewline(t *testing.T) {
	buf := Buffer()
	defer Release(buf)
	v := map[string]string{"text": "<b>Tom & Jerry</b>\n"}
	got, err := Encode(buf, v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"text":"<b>Tom & Jerry</b>\n"}`; string(got) != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["text"] != v["text"] {
		t.Errorf("read back %q (%v), want %q", back["text"], err, v["text"])
	}
	got, err = Encode(buf, 7)
	if err != nil || string(got) != "7" {
		t.Errorf("Encode(7) into the used buffer = %q, %v", got, err)
	}
	if _, err := Encode(buf, func() {}); err == nil {
		t.Error("Encode of a func: no error")
	}
}
