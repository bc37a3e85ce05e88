package sync

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// localStorage holds strings. The session's records are JSON (text), so they are kept as they
// are, behind "t:"; other bytes go in base64 behind "b:". Plain Go, so it is tested natively.

func encodeBrowser(data []byte) string {
	if utf8.Valid(data) {
		return "t:" + string(data)
	}
	return "b:" + base64.StdEncoding.EncodeToString(data)
}

func decodeBrowser(s string) ([]byte, error) {
	switch {
	case strings.HasPrefix(s, "t:"):
		return []byte(s[2:]), nil
	case strings.HasPrefix(s, "b:"):
		return base64.StdEncoding.DecodeString(s[2:])
	}
	return nil, fmt.Errorf("local store: an entry this studio did not write")
}
