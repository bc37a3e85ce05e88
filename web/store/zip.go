package store

import (
	"archive/zip"
	"fmt"
	"io"
	"sort"

	"latentstudio/studio/protocol"
)

// Export writes a project's current version as one zip: manifest.json and its files.
func (s *Store) Export(id string, w io.Writer) error {
	m, err := s.manifest(id)
	if err != nil {
		return err
	}
	files, err := s.readAll(m)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	mb, _ := jsonIndent(m)
	names := []string{}
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	add := func(name string, b []byte) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: m.Modified})
		if err != nil {
			return err
		}
		_, err = fw.Write(b)
		return err
	}
	if err := add("manifest.json", mb); err != nil {
		return fmt.Errorf("export %s: %w", id, err)
	}
	for _, n := range names {
		if err := add(n, files[n]); err != nil {
			return fmt.Errorf("export %s: %w", id, err)
		}
	}
	return zw.Close()
}

// Import reads a zip made by Export into a new project (a new id, so importing twice gives
// two projects). Everything is checked: names, sizes, checksums.
func (s *Store) Import(r io.ReaderAt, size int64) (Manifest, error) {
	if size > MaxProject+1<<20 {
		return Manifest{}, protocol.Errorf(protocol.TooLarge, "zip is %d bytes, at most %d", size, MaxProject+1<<20)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return Manifest{}, protocol.Errorf(protocol.BadInput, "not a zip file: %v", err)
	}
	if len(zr.File) > MaxFiles+1 {
		return Manifest{}, protocol.Errorf(protocol.TooLarge, "zip has %d entries, at most %d", len(zr.File), MaxFiles+1)
	}
	var m Manifest
	var haveManifest bool
	files := map[string][]byte{}
	var total int64
	for _, f := range zr.File {
		if f.Name != "manifest.json" && !protocol.ValidFile(f.Name) {
			return Manifest{}, protocol.Errorf(protocol.BadInput, "zip entry %q is not a payload name", clip(f.Name))
		}
		rc, err := f.Open()
		if err != nil {
			return Manifest{}, protocol.Errorf(protocol.BadInput, "zip entry %s: %v", f.Name, err)
		}
		b, err := readLimited(rc, MaxFileSize, f.Name)
		rc.Close()
		if err != nil {
			return Manifest{}, err
		}
		if total += int64(len(b)); total > MaxProject {
			return Manifest{}, protocol.Errorf(protocol.TooLarge, "zip holds more than %d bytes", MaxProject)
		}
		if f.Name == "manifest.json" {
			if m, err = LoadManifest(b); err != nil {
				return Manifest{}, err
			}
			haveManifest = true
			continue
		}
		if _, dup := files[f.Name]; dup {
			return Manifest{}, protocol.Errorf(protocol.BadInput, "zip holds %s twice", f.Name)
		}
		files[f.Name] = b
	}
	if !haveManifest {
		return Manifest{}, protocol.Errorf(protocol.BadInput, "zip has no manifest.json: is it a studio project?")
	}
	for name, fi := range m.Files {
		b, ok := files[name]
		if !ok {
			return Manifest{}, protocol.Errorf(protocol.BadInput, "zip lacks %s named in its manifest", name)
		}
		if int64(len(b)) != fi.Size || hash(b) != fi.SHA256 {
			return Manifest{}, protocol.Errorf(protocol.BadInput, "%s in the zip does not match its manifest checksum", name)
		}
	}
	for name := range files {
		if _, ok := m.Files[name]; !ok {
			return Manifest{}, protocol.Errorf(protocol.BadInput, "zip holds %s that its manifest does not name", name)
		}
	}
	return s.Create(m.Kind, m.Name, files)
}
