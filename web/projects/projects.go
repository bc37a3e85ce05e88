// Package projects is the logic on top of the store: which kinds of project exist, what a
// new one holds, which payloads a client may save, and thumbnails. Kinds are open-ended:
// piano rolls now; toon boards and latent sessions register here when their issues land.
package projects

import (
	"slices"
	"sync"

	"latentstudio/studio/protocol"
	"latentstudio/web/store"
)

// ThumbFile is the payload that holds a project's gallery thumbnail (a PNG).
const ThumbFile = "thumb.png"

// Kind is a kind of project.
type Kind struct {
	Name  string   // stored in the manifest, e.g. "pianoroll"
	Label string   // shown to people, e.g. "Piano roll"
	Main  string   // the main payload, e.g. "song.mid"
	Files []string // payloads a client may save (Main included)
	Types map[string]string
	New   func() map[string][]byte
	Check func(file string, data []byte) error
	// Thumbnail renders a PNG from the project's payloads; nil when the kind has none yet.
	Thumbnail func(files map[string][]byte) ([]byte, error)
}

// Service creates and saves projects of registered kinds.
type Service struct {
	Store *store.Store

	mu    sync.RWMutex
	kinds []Kind
}

// New makes a service with the built-in kinds registered.
func New(st *store.Store) *Service {
	s := &Service{Store: st}
	s.Register(PianoRoll())
	return s
}

// Register adds a kind (a kind registered twice panics: two rooms claiming one name).
func (s *Service) Register(k Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.kinds {
		if o.Name == k.Name {
			panic("projects: kind registered twice: " + k.Name)
		}
	}
	s.kinds = append(s.kinds, k)
}

// Kinds lists the registered kinds in registration order.
func (s *Service) Kinds() []Kind {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.kinds)
}

// Kind finds a kind by name.
func (s *Service) Kind(name string) (Kind, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, k := range s.kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Create makes a new project of a kind with its default payloads.
func (s *Service) Create(kind, name string) (store.Manifest, error) {
	k, ok := s.Kind(kind)
	if !ok {
		return store.Manifest{}, protocol.Errorf(protocol.NotFound, "no project kind %q", kind)
	}
	files := k.New()
	s.addThumb(k, files)
	return s.Store.Create(k.Name, name, files)
}

// Save stores a new version of one payload (an autosave) and refreshes the thumbnail.
func (s *Service) Save(id, file string, data []byte) (int, error) {
	m, err := s.Store.Get(id)
	if err != nil {
		return 0, err
	}
	k, ok := s.Kind(m.Kind)
	if !ok {
		return 0, protocol.Errorf(protocol.NotFound, "project %s is of kind %q, which this studio does not know", id, m.Kind)
	}
	if !slices.Contains(k.Files, file) {
		return 0, protocol.Errorf(protocol.BadInput, "a %s project has no payload %q (it has %v)", k.Label, file, k.Files)
	}
	if len(data) > store.MaxFileSize {
		return 0, protocol.Errorf(protocol.TooLarge, "%s is %d bytes, at most %d", file, len(data), store.MaxFileSize)
	}
	if k.Check != nil {
		if err := k.Check(file, data); err != nil {
			return 0, err
		}
	}
	files := map[string][]byte{file: data}
	if file == k.Main {
		s.addThumb(k, files)
	}
	m, err = s.Store.Save(id, files)
	if err != nil {
		return 0, err
	}
	return m.Version, nil
}

// addThumb renders a thumbnail into files when the kind can (a failure only costs the
// picture, never the save).
func (s *Service) addThumb(k Kind, files map[string][]byte) {
	if k.Thumbnail == nil {
		return
	}
	if png, err := k.Thumbnail(files); err == nil && len(png) > 0 {
		files[ThumbFile] = png
	}
}

// Thumbnail returns a project's thumbnail PNG, or not_found.
func (s *Service) Thumbnail(id string) ([]byte, error) {
	m, err := s.Store.Get(id)
	if err != nil {
		return nil, err
	}
	if _, ok := m.Files[ThumbFile]; !ok {
		return nil, protocol.Errorf(protocol.NotFound, "project %s has no thumbnail", id)
	}
	return s.Store.ReadFile(id, ThumbFile)
}

// Label returns the human name of a kind ("Piano roll"), or the name itself.
func (s *Service) Label(kind string) string {
	if k, ok := s.Kind(kind); ok {
		return k.Label
	}
	return kind
}
