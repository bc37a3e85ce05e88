package store

import (
	"fmt"
	"os"
	"path/filepath"

	"latentstudio/studio/safefile"
)

// writeFileAtomic replaces dir/name with data so that a crash leaves either the old or the
// new content.
func writeFileAtomic(dir, name string, data []byte) error {
	return safefile.Write(filepath.Join(dir, name), data)
}

// writeFileSync writes a new file and fsyncs it (its directory is synced by the caller).
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	if err := safefile.SyncDir(dir); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
