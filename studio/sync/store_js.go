//go:build js

package sync

import (
	"fmt"
	"syscall/js"
)

// BrowserStore keeps bytes in the page's localStorage under "latentstudio:" + key (text as
// it is, other bytes in base64: browser_codec.go). localStorage holds a few MB per site, plenty for songs; a full store is an error the
// session reports, not a lost edit: the doc stays in memory and autosave keeps trying.
type BrowserStore struct{}

const browserPrefix = "latentstudio:"

func storage() (js.Value, error) {
	ls := js.Global().Get("localStorage")
	if ls.IsUndefined() || ls.IsNull() {
		return js.Value{}, fmt.Errorf("local store: this browser has no localStorage")
	}
	return ls, nil
}

// Get reads key from localStorage.
func (BrowserStore) Get(key string) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("local store: %v", r)
		}
	}()
	ls, err := storage()
	if err != nil {
		return nil, err
	}
	v := ls.Call("getItem", browserPrefix+key)
	if v.IsNull() || v.IsUndefined() {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return decodeBrowser(v.String())
}

// Put writes key to localStorage; a full quota is an error.
func (BrowserStore) Put(key string, data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil { // setItem throws QuotaExceededError
			err = fmt.Errorf("local store: browser storage full or blocked: %v", r)
		}
	}()
	ls, err := storage()
	if err != nil {
		return err
	}
	ls.Call("setItem", browserPrefix+key, encodeBrowser(data))
	return nil
}
