package sync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	stdsync "sync"

	"latentstudio/studio/safefile"
)

// LocalStore keeps bytes by key on this device: the browser's localStorage, a folder on the
// desktop, memory in tests. The session writes every edit to it at once, so a crash, a closed
// tab or a dead server loses nothing.
type LocalStore interface {
	// Get returns the bytes stored under key, or an error wrapping ErrNotFound.
	Get(key string) ([]byte, error)
	// Put replaces what is stored under key; when it returns nil the bytes are kept.
	Put(key string, data []byte) error
}

// ErrNotFound: nothing is stored under the key.
var ErrNotFound = errors.New("not in the local store")

// MemoryStore keeps bytes in memory (tests, and a session that must not touch the disk).
type MemoryStore struct {
	mu stdsync.Mutex
	m  map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string][]byte{}} }

// Get returns a copy of the bytes under key.
func (s *MemoryStore) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return append([]byte(nil), b...), nil
}

// Put stores a copy of data under key.
func (s *MemoryStore) Put(key string, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), data...)
	return nil
}

// FileStore keeps each key in a file of a folder (the desktop app's). Writes are atomic: a
// temp file, fsync, rename, fsync of the folder, so a crash leaves the old or the new bytes.
type FileStore struct {
	Dir string
}

// NewFileStore makes the folder if needed.
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	return &FileStore{Dir: dir}, nil
}

// fileName maps a key to a file name that cannot leave the folder.
func fileName(key string) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "~%x~", r)
		}
	}
	name := b.String()
	if name == "" || name[0] == '.' {
		name = "~" + name
	}
	return name
}

// Get reads the file of key.
func (s *FileStore) Get(key string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, fileName(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	return b, nil
}

// Put writes the file of key atomically.
func (s *FileStore) Put(key string, data []byte) error {
	if err := safefile.Write(filepath.Join(s.Dir, fileName(key)), data); err != nil {
		return fmt.Errorf("local store: %w", err)
	}
	return nil
}
