package safetensors

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"latentstudio/gpu"
)

// Loader uploads a file's tensors to a backend by name, checking shapes, and keeps the first
// error so that a model's constructor reads as a list of weights:
//
//	ld := safetensors.NewLoader(be, f)
//	l.QKV = ld.Weight(p+"attn.qkv.weight", 3*c, c)
//	l.Out = ld.Weight(p+"attn.out.weight", c, c)
//	if err := ld.Err(); err != nil { ... }
//
// or binds a whole struct by tags with Bind.
type Loader struct {
	f    *File
	be   gpu.Backend
	err  error
	used map[string]bool
	made []*gpu.Tensor
}

// NewLoader binds tensors of f into weights on be.
func NewLoader(be gpu.Backend, f *File) *Loader {
	return &Loader{f: f, be: be, used: map[string]bool{}}
}

// Err returns the first error.
func (l *Loader) Err() error { return l.err }

func (l *Loader) fail(err error) {
	if l.err == nil {
		l.err = err
	}
}

// lookup finds name and checks its shape (−1 matches any size).
func (l *Loader) lookup(name string, shape []int) *Info {
	if l.err != nil {
		return nil
	}
	t, err := l.f.Tensor(name)
	if err != nil {
		l.fail(err)
		return nil
	}
	ok := len(t.Shape) == len(shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = shape[i] < 0 || shape[i] == t.Shape[i]
	}
	if !ok {
		l.fail(fmt.Errorf("safetensors: %s: %w: tensor %q is %v, the model wants %v", l.f.Path, ErrShape, name, t.Shape, gpu.Shape(shape)))
		return nil
	}
	l.used[name] = true
	return t
}

// Weight uploads tensor name, which must have the given shape (−1: any size), as a
// persistent weight. It returns nil after an error.
func (l *Loader) Weight(name string, shape ...int) *gpu.Tensor {
	t := l.lookup(name, shape)
	if t == nil {
		return nil
	}
	dt, err := t.GPUType()
	if err != nil {
		l.fail(fmt.Errorf("safetensors: %s: %w", l.f.Path, err))
		return nil
	}
	w, err := gpu.NewWeight(l.be, dt, t.Data, t.Shape...)
	if err != nil {
		l.fail(fmt.Errorf("safetensors: %s: tensor %q: %w", l.f.Path, name, err))
		return nil
	}
	l.made = append(l.made, w)
	return w
}

// Floats returns tensor name's values on the host (small constants a model reads once, such
// as a mix factor), checking its shape.
func (l *Loader) Floats(name string, shape ...int) []float32 {
	t := l.lookup(name, shape)
	if t == nil {
		return nil
	}
	v, err := t.Float32()
	if err != nil {
		l.fail(fmt.Errorf("safetensors: %s: %w", l.f.Path, err))
		return nil
	}
	return v
}

// Unused lists the file's tensors that nothing has bound (a sign of a renamed weight).
func (l *Loader) Unused() []string {
	var n []string
	for _, k := range l.f.Names() {
		if !l.used[k] {
			n = append(n, k)
		}
	}
	sort.Strings(n)
	return n
}

// Free releases every weight this loader made (after an error, or when a model is dropped).
func (l *Loader) Free() {
	for _, w := range l.made {
		gpu.FreeTensor(l.be, w)
	}
	l.made = nil
}

// Bind fills the *gpu.Tensor fields of the struct dst points to. A field's tag `st:"name"`
// gives its tensor name under prefix, and `shape:"3*C,C"` its shape, where each dimension is
// an integer, a name from dims, or a product of those. Struct fields (or pointers to structs)
// with an st tag recurse with the prefix "name."; slices of them with "name.<index>." (size the
// slice first). []float32 fields get host values (Floats).
func (l *Loader) Bind(prefix string, dst any, dims map[string]int) {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		l.fail(fmt.Errorf("safetensors: Bind needs a pointer to a struct, got %T", dst))
		return
	}
	l.bindStruct(prefix, v.Elem(), dims)
}

var tensorType = reflect.TypeOf((*gpu.Tensor)(nil))

func (l *Loader) bindStruct(prefix string, v reflect.Value, dims map[string]int) {
	t := v.Type()
	for i := 0; i < t.NumField() && l.err == nil; i++ {
		f := t.Field(i)
		name, ok := f.Tag.Lookup("st")
		if !ok || !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		switch {
		case f.Type == tensorType || f.Type == reflect.TypeOf([]float32(nil)):
			shape, err := parseShape(f.Tag.Get("shape"), dims)
			if err != nil {
				l.fail(fmt.Errorf("safetensors: field %s (%q): %w", f.Name, prefix+name, err))
				return
			}
			if f.Type == tensorType {
				fv.Set(reflect.ValueOf(l.Weight(prefix+name, shape...)))
			} else {
				fv.Set(reflect.ValueOf(l.Floats(prefix+name, shape...)))
			}
		case f.Type.Kind() == reflect.Struct:
			l.bindStruct(prefix+name+".", fv, dims)
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
			if fv.IsNil() {
				fv.Set(reflect.New(f.Type.Elem()))
			}
			l.bindStruct(prefix+name+".", fv.Elem(), dims)
		case f.Type.Kind() == reflect.Slice:
			for j := 0; j < fv.Len() && l.err == nil; j++ {
				e := fv.Index(j)
				p := prefix + name + "." + strconv.Itoa(j) + "."
				if e.Kind() == reflect.Pointer {
					if e.IsNil() {
						e.Set(reflect.New(e.Type().Elem()))
					}
					e = e.Elem()
				}
				if e.Kind() != reflect.Struct {
					l.fail(fmt.Errorf("safetensors: field %s: slices must hold structs", f.Name))
					return
				}
				l.bindStruct(p, e, dims)
			}
		default:
			l.fail(fmt.Errorf("safetensors: field %s has st tag but type %v", f.Name, f.Type))
		}
	}
}

// parseShape reads "3*C,C" with dims{"C": 64} as [192, 64]; "" is a scalar shape [].
func parseShape(s string, dims map[string]int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, d := range strings.Split(s, ",") {
		v := 1
		for _, f := range strings.Split(d, "*") {
			f = strings.TrimSpace(f)
			if n, err := strconv.Atoi(f); err == nil {
				v *= n
			} else if n, ok := dims[f]; ok {
				v *= n
			} else {
				return nil, fmt.Errorf("shape %q: unknown dimension %q", s, f)
			}
		}
		out = append(out, v)
	}
	return out, nil
}
