// Package store keeps projects in a data directory: one folder per project with a
// manifest.json and versioned payload folders. Every write is atomic (temp file, fsync,
// rename, fsync of the directory) and a save becomes visible only when the manifest that
// names it is renamed into place, so a crash or a kill -9 leaves each project at its last
// completed save.
//
//	DATA/projects/ID/manifest.json      the current version and its files
//	DATA/projects/ID/v/000007/FILE      payloads of version 7 (the last Keep versions stay)
//	DATA/projects/ID/v/000007/version.json
//	DATA/trash/ID-UNIXNANO/             deleted projects, until the trash is emptied
package store

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"latentstudio/studio/protocol"
)

// DefaultKeep is how many versions a project keeps when the caller does not say.
const DefaultKeep = 20

// DefaultDir is $XDG_DATA_HOME/latent-studio, else ~/.local/share/latent-studio.
func DefaultDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "latent-studio"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory: set XDG_DATA_HOME or pass --data: %w", err)
	}
	return filepath.Join(home, ".local", "share", "latent-studio"), nil
}

// Store is a data directory of projects. Its methods may be called from any goroutine.
type Store struct {
	dir  string
	keep int
	now  func() time.Time

	mu     sync.Mutex
	locks  map[string]*sync.Mutex
	closed bool
	writes sync.WaitGroup
}

// Open opens (creating it if needed) a data directory and tidies what a crash may have left:
// temp files and version folders that no manifest names yet.
func Open(dir string, keep int) (*Store, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	for _, d := range []string{dir, filepath.Join(dir, "projects"), filepath.Join(dir, "trash")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("data directory %s: %w", dir, err)
		}
	}
	s := &Store{dir: dir, keep: keep, now: time.Now, locks: map[string]*sync.Mutex{}}
	ents, err := os.ReadDir(s.projects())
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.RemoveAll(filepath.Join(s.projects(), e.Name())) // a create that never finished
			continue
		}
		if protocol.ValidID(e.Name()) {
			s.tidy(e.Name())
		}
	}
	return s, nil
}

// Dir is the data directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) projects() string             { return filepath.Join(s.dir, "projects") }
func (s *Store) pdir(id string) string        { return filepath.Join(s.projects(), id) }
func vname(v int) string                      { return fmt.Sprintf("%06d", v) }
func (s *Store) vdir(id string, v int) string { return filepath.Join(s.pdir(id), "v", vname(v)) }

// tidy removes temp files and unreferenced newer versions of one project.
func (s *Store) tidy(id string) {
	m, err := s.manifest(id)
	if err != nil {
		return
	}
	vroot := filepath.Join(s.pdir(id), "v")
	ents, _ := os.ReadDir(vroot)
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n > m.Version {
			os.RemoveAll(filepath.Join(vroot, e.Name()))
		}
	}
	pents, _ := os.ReadDir(s.pdir(id))
	for _, e := range pents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			os.Remove(filepath.Join(s.pdir(id), e.Name()))
		}
	}
}

// begin registers a write; it fails once the store is closing.
func (s *Store) begin(id string) (unlock func(), err error) {
	if !protocol.ValidID(id) {
		return nil, protocol.Errorf(protocol.BadInput, "%q is not a valid project id", clip(id))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, protocol.Errorf(protocol.Busy, "the studio is shutting down; the project was not changed")
	}
	l := s.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		s.locks[id] = l
	}
	s.writes.Add(1)
	s.mu.Unlock()
	l.Lock()
	return func() { l.Unlock(); s.writes.Done() }, nil
}

// Close waits for writes in progress and refuses new ones: after it returns, everything
// acknowledged is on disk.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.writes.Wait()
}

// NewID makes a fresh project id.
func NewID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "p" + strconv.FormatInt(time.Now().Unix(), 36) + "-" + hex.EncodeToString(b[:])
}

func notFound(id string) error {
	return protocol.Errorf(protocol.NotFound, "no project %q", clip(id))
}

// manifest reads a project's manifest.
func (s *Store) manifest(id string) (Manifest, error) {
	if !protocol.ValidID(id) {
		return Manifest{}, protocol.Errorf(protocol.BadInput, "%q is not a valid project id", clip(id))
	}
	b, err := os.ReadFile(filepath.Join(s.pdir(id), "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, notFound(id)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("read project %s: %w", id, err)
	}
	m, err := LoadManifest(b)
	if err != nil {
		return Manifest{}, err
	}
	if m.ID != id {
		return Manifest{}, protocol.Errorf(protocol.BadInput, "project folder %s holds a manifest for %s", id, clip(m.ID))
	}
	return m, nil
}

// Get returns a project's manifest.
func (s *Store) Get(id string) (Manifest, error) { return s.manifest(id) }

// List returns every readable project, most recently modified first. Projects whose
// manifest cannot be read are returned in broken with the reason.
func (s *Store) List() (list []Manifest, broken map[string]error, err error) {
	ents, err := os.ReadDir(s.projects())
	if err != nil {
		return nil, nil, fmt.Errorf("list projects: %w", err)
	}
	broken = map[string]error{}
	for _, e := range ents {
		if !e.IsDir() || !protocol.ValidID(e.Name()) {
			continue
		}
		m, err := s.manifest(e.Name())
		if err != nil {
			broken[e.Name()] = err
			continue
		}
		list = append(list, m)
	}
	sort.Slice(list, func(i, j int) bool {
		if !list[i].Modified.Equal(list[j].Modified) {
			return list[i].Modified.After(list[j].Modified)
		}
		return list[i].ID < list[j].ID
	})
	return list, broken, nil
}

// ReadFile reads one payload of a project's current version and checks its hash.
func (s *Store) ReadFile(id, name string) ([]byte, error) {
	m, err := s.manifest(id)
	if err != nil {
		return nil, err
	}
	return s.readVersionFile(m, m.Version, name)
}

func (s *Store) readVersionFile(m Manifest, v int, name string) ([]byte, error) {
	fi, ok := m.Files[name]
	if !ok {
		return nil, protocol.Errorf(protocol.NotFound, "project %s has no file %q", m.ID, clip(name))
	}
	b, err := os.ReadFile(filepath.Join(s.vdir(m.ID, v), name))
	if err != nil {
		return nil, fmt.Errorf("read %s of project %s: %w", name, m.ID, err)
	}
	if int64(len(b)) != fi.Size || hash(b) != fi.SHA256 {
		return nil, fmt.Errorf("file %s of project %s v%d is damaged (size or checksum differs): restore an older version", name, m.ID, v)
	}
	return b, nil
}

func hash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Create makes a new project with the given files as version 1.
func (s *Store) Create(kind, name string, files map[string][]byte) (Manifest, error) {
	return s.create(NewID(), kind, name, files)
}

func (s *Store) create(id, kind, name string, files map[string][]byte) (Manifest, error) {
	name, err := CleanName(name)
	if err != nil {
		return Manifest{}, err
	}
	unlock, err := s.begin(id)
	if err != nil {
		return Manifest{}, err
	}
	defer unlock()
	now := s.now().UTC()
	m := Manifest{Format: ManifestFormat, ID: id, Kind: kind, Name: name, Created: now, Modified: now, Version: 1, Files: map[string]FileInfo{}}
	for n, b := range files {
		m.Files[n] = FileInfo{Size: int64(len(b)), SHA256: hash(b)}
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	// Build the whole folder under a temp name, then rename it into place.
	tmp, err := os.MkdirTemp(s.projects(), ".tmp-")
	if err != nil {
		return Manifest{}, fmt.Errorf("create project: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeVersion(filepath.Join(tmp, "v"), 1, files, nil, m.Files, now); err != nil {
		return Manifest{}, err
	}
	if err := writeManifest(tmp, m); err != nil {
		return Manifest{}, err
	}
	if err := syncDir(tmp); err != nil {
		return Manifest{}, err
	}
	if err := os.Rename(tmp, s.pdir(id)); err != nil {
		return Manifest{}, fmt.Errorf("create project %s: %w", id, err)
	}
	return m, syncDir(s.projects())
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, "manifest.json", append(b, '\n'))
}

type versionInfo struct {
	Version int                 `json:"version"`
	Saved   time.Time           `json:"saved"`
	Files   map[string]FileInfo `json:"files"`
}

// writeVersion writes version v under vroot: files from data, others hard-linked from prev
// (a map of name → path). It builds the folder under a temp name and renames it.
func writeVersion(vroot string, v int, data map[string][]byte, prev map[string]string, all map[string]FileInfo, now time.Time) error {
	if err := os.MkdirAll(vroot, 0o755); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	final := filepath.Join(vroot, vname(v))
	os.RemoveAll(final) // an unreferenced folder a crash left behind
	tmp, err := os.MkdirTemp(vroot, ".tmp-")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	defer os.RemoveAll(tmp)
	info := versionInfo{Version: v, Saved: now, Files: all}
	for name, b := range data {
		if err := writeFileSync(filepath.Join(tmp, name), b); err != nil {
			return fmt.Errorf("save %s: %w", name, err)
		}
	}
	for name, src := range prev {
		if _, ok := data[name]; ok {
			continue
		}
		// Unchanged payloads are shared with the previous version (copied where links fail).
		if err := os.Link(src, filepath.Join(tmp, name)); err != nil {
			b, rerr := os.ReadFile(src)
			if rerr != nil {
				return fmt.Errorf("save: keep %s: %w", name, rerr)
			}
			if err := writeFileSync(filepath.Join(tmp, name), b); err != nil {
				return fmt.Errorf("save: keep %s: %w", name, err)
			}
		}
	}
	vb, _ := json.MarshalIndent(info, "", "  ")
	if err := writeFileSync(filepath.Join(tmp, "version.json"), vb); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return syncDir(vroot)
}

// Save writes a new version in which the given files replace (or join) the current ones.
// It returns once the new version is on disk and named by manifest.json.
func (s *Store) Save(id string, files map[string][]byte) (Manifest, error) {
	unlock, err := s.begin(id)
	if err != nil {
		return Manifest{}, err
	}
	defer unlock()
	m, err := s.manifest(id)
	if err != nil {
		return Manifest{}, err
	}
	return s.saveLocked(m, files, nil)
}

func (s *Store) saveLocked(m Manifest, files map[string][]byte, keepFrom map[string]string) (Manifest, error) {
	now := s.now().UTC()
	next := m
	next.Version = m.Version + 1
	next.Modified = now
	next.Files = map[string]FileInfo{}
	prev := keepFrom
	if prev == nil {
		prev = map[string]string{}
		for name, fi := range m.Files {
			prev[name] = filepath.Join(s.vdir(m.ID, m.Version), name)
			next.Files[name] = fi
		}
	} else {
		for name := range prev {
			next.Files[name] = m.Files[name]
		}
	}
	for name, b := range files {
		next.Files[name] = FileInfo{Size: int64(len(b)), SHA256: hash(b)}
	}
	if err := next.Validate(); err != nil {
		return Manifest{}, err
	}
	if err := writeVersion(filepath.Join(s.pdir(m.ID), "v"), next.Version, files, prev, next.Files, now); err != nil {
		return Manifest{}, err
	}
	if err := writeManifest(s.pdir(m.ID), next); err != nil {
		return Manifest{}, err
	}
	s.prune(m.ID, next.Version)
	return next, nil
}

// prune removes versions older than the last Keep.
func (s *Store) prune(id string, current int) {
	vroot := filepath.Join(s.pdir(id), "v")
	ents, _ := os.ReadDir(vroot)
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil && n <= current-s.keep {
			os.RemoveAll(filepath.Join(vroot, e.Name()))
		}
	}
}

// Version is one restorable version of a project.
type Version struct {
	Version int
	Saved   time.Time
	Files   map[string]FileInfo
}

// Versions lists the kept versions, newest first.
func (s *Store) Versions(id string) ([]Version, error) {
	m, err := s.manifest(id)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(s.pdir(id), "v"))
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", id, err)
	}
	var out []Version
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n > m.Version {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.vdir(id, n), "version.json"))
		if err != nil {
			continue
		}
		var vi versionInfo
		if json.Unmarshal(b, &vi) != nil || vi.Version != n {
			continue
		}
		out = append(out, Version{Version: n, Saved: vi.Saved, Files: vi.Files})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out, nil
}

// Restore makes an old version current again, as a new version (nothing is lost).
func (s *Store) Restore(id string, version int) (Manifest, error) {
	unlock, err := s.begin(id)
	if err != nil {
		return Manifest{}, err
	}
	defer unlock()
	m, err := s.manifest(id)
	if err != nil {
		return Manifest{}, err
	}
	b, err := os.ReadFile(filepath.Join(s.vdir(id, version), "version.json"))
	if err != nil || version > m.Version {
		return Manifest{}, protocol.Errorf(protocol.NotFound, "project %s has no version %d (only the last %d are kept)", id, version, s.keep)
	}
	var vi versionInfo
	if err := json.Unmarshal(b, &vi); err != nil {
		return Manifest{}, fmt.Errorf("version %d of %s: %w", version, id, err)
	}
	old := m
	old.Files = vi.Files
	keep := map[string]string{}
	for name := range vi.Files {
		keep[name] = filepath.Join(s.vdir(id, version), name)
	}
	return s.saveLocked(old, nil, keep)
}

// Rename changes a project's name.
func (s *Store) Rename(id, name string) (Manifest, error) {
	name, err := CleanName(name)
	if err != nil {
		return Manifest{}, err
	}
	unlock, err := s.begin(id)
	if err != nil {
		return Manifest{}, err
	}
	defer unlock()
	m, err := s.manifest(id)
	if err != nil {
		return Manifest{}, err
	}
	m.Name = name
	m.Modified = s.now().UTC()
	return m, writeManifest(s.pdir(id), m)
}

// Duplicate copies a project's current version into a new project.
func (s *Store) Duplicate(id, name string) (Manifest, error) {
	m, err := s.manifest(id)
	if err != nil {
		return Manifest{}, err
	}
	files, err := s.readAll(m)
	if err != nil {
		return Manifest{}, err
	}
	if name == "" {
		name = m.Name + " copy"
		if len(name) > MaxNameLen {
			name = m.Name
		}
	}
	return s.Create(m.Kind, name, files)
}

func (s *Store) readAll(m Manifest) (map[string][]byte, error) {
	files := map[string][]byte{}
	for name := range m.Files {
		b, err := s.readVersionFile(m, m.Version, name)
		if err != nil {
			return nil, err
		}
		files[name] = b
	}
	return files, nil
}

// Delete moves a project to the trash.
func (s *Store) Delete(id string) error {
	unlock, err := s.begin(id)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(s.pdir(id), "manifest.json")); err != nil {
		return notFound(id)
	}
	dst := filepath.Join(s.dir, "trash", id+"-"+strconv.FormatInt(s.now().UnixNano(), 10))
	if err := os.Rename(s.pdir(id), dst); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	if err := syncDir(s.projects()); err != nil {
		return err
	}
	return syncDir(filepath.Join(s.dir, "trash"))
}

// Trashed is a deleted project.
type Trashed struct {
	Entry    string // folder name in the trash
	Manifest Manifest
}

// Trash lists deleted projects.
func (s *Store) Trash() ([]Trashed, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "trash"))
	if err != nil {
		return nil, err
	}
	var out []Trashed
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.dir, "trash", e.Name(), "manifest.json"))
		if err != nil {
			continue
		}
		m, err := LoadManifest(b)
		if err != nil {
			continue
		}
		out = append(out, Trashed{Entry: e.Name(), Manifest: m})
	}
	return out, nil
}

// Undelete brings a trashed project back (under a new id if its id was reused).
func (s *Store) Undelete(entry string) (Manifest, error) {
	if !protocol.ValidID(entry) {
		return Manifest{}, protocol.Errorf(protocol.BadInput, "%q is not a trash entry", clip(entry))
	}
	src := filepath.Join(s.dir, "trash", entry)
	b, err := os.ReadFile(filepath.Join(src, "manifest.json"))
	if err != nil {
		return Manifest{}, protocol.Errorf(protocol.NotFound, "no trash entry %q", entry)
	}
	m, err := LoadManifest(b)
	if err != nil {
		return Manifest{}, err
	}
	unlock, err := s.begin(m.ID)
	if err != nil {
		return Manifest{}, err
	}
	defer unlock()
	if _, err := os.Stat(s.pdir(m.ID)); err == nil {
		return Manifest{}, protocol.Errorf(protocol.Busy, "a project with id %s exists again", m.ID)
	}
	if err := os.Rename(src, s.pdir(m.ID)); err != nil {
		return Manifest{}, fmt.Errorf("undelete %s: %w", m.ID, err)
	}
	return m, syncDir(s.projects())
}

// EmptyTrash removes all deleted projects for good.
func (s *Store) EmptyTrash() error {
	ents, err := os.ReadDir(filepath.Join(s.dir, "trash"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(s.dir, "trash", e.Name())); err != nil {
			return fmt.Errorf("empty trash: %w", err)
		}
	}
	return nil
}

// readLimited reads at most n bytes from r and fails when there is more.
func readLimited(r io.Reader, n int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(b)) > n {
		return nil, protocol.Errorf(protocol.TooLarge, "%s is larger than %d bytes", what, n)
	}
	return b, nil
}
