package cli

import (
	"fmt"
	"strings"
)

// Args is a parsed command line.
type Args struct {
	// Help and Version are set by --help/-h and --version/-v. Help wins
	// over Version; both win over every other option.
	Help    bool
	Version bool
	// values holds the options given, last one wins.
	values map[*setting]value
}

// ArgError is a command line that does not parse.
type ArgError struct{ Msg string }

func (e *ArgError) Error() string { return e.Msg }

func argErrorf(format string, args ...any) error {
	return &ArgError{Msg: fmt.Sprintf(format, args...)}
}

// ParseArgs parses the command line (without the program name) strictly,
// as the reference's parser does: unknown options, positional arguments,
// a missing option argument and a value attached to a switch are errors.
// An argument is given as "--port 3000", "--port=3000", "-p 3000" or
// "-p3000"; one that starts with "-" must be attached ("--port=-1").
// Short switches may be grouped ("-hv").
func ParseArgs(args []string) (Args, error) {
	a := Args{values: make(map[*setting]value)}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			// Everything after "--" is positional, and there are no
			// positional arguments.
			if i+1 < len(args) {
				return a, unexpected(args[i+1])
			}
			return a, nil

		case strings.HasPrefix(arg, "--"):
			name, attached, hasValue := strings.Cut(arg[2:], "=")
			switch name {
			case "help", "version":
				if hasValue {
					return a, argErrorf("Option '--%s' does not take an argument", name)
				}
				a.setMeta(name)
				continue
			}
			st := flagByLong(name)
			if st == nil {
				return a, argErrorf("Unknown option '--%s'", name)
			}
			if st.switchFlag() {
				if hasValue {
					return a, argErrorf("Option '--%s' does not take an argument", name)
				}
				a.set(st, "true")
				continue
			}
			if !hasValue {
				var err error
				if attached, err = nextValue(args, &i, st); err != nil {
					return a, err
				}
			}
			a.set(st, attached)

		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			if err := a.parseShort(args, &i); err != nil {
				return a, err
			}

		default:
			return a, unexpected(arg)
		}
	}
	return a, nil
}

// parseShort parses args[*i], a group of one-letter options. An option
// that takes an argument ends the group: the rest of the word ("-p3000",
// "-p=3000") or else the next word is its argument.
func (a *Args) parseShort(args []string, i *int) error {
	word := args[*i]
	for j := 1; j < len(word); j++ {
		c := word[j]
		switch c {
		case 'h':
			a.setMeta("help")
			continue
		case 'v':
			a.setMeta("version")
			continue
		}
		st := flagByShort(c)
		if st == nil {
			return argErrorf("Unknown option '-%c'", c)
		}
		if st.switchFlag() {
			a.set(st, "true")
			continue
		}
		if rest := word[j+1:]; rest != "" {
			a.set(st, strings.TrimPrefix(rest, "="))
			return nil
		}
		v, err := nextValue(args, i, st)
		if err != nil {
			return err
		}
		a.set(st, v)
		return nil
	}
	return nil
}

// nextValue takes the word after args[*i] as the argument of st.
func nextValue(args []string, i *int, st *setting) (string, error) {
	if *i+1 >= len(args) {
		return "", argErrorf("Option '%s' argument missing", optionLabel(st))
	}
	next := args[*i+1]
	if strings.HasPrefix(next, "-") {
		return "", argErrorf("Option '%s' argument is ambiguous: a value that starts with '-' must be attached, as in '--%s=%s'",
			optionLabel(st), st.flag, next)
	}
	*i++
	return next, nil
}

func unexpected(arg string) error {
	return argErrorf("Unexpected argument '%s'. This command does not take positional arguments", arg)
}

func (a *Args) setMeta(name string) {
	if name == "help" {
		a.Help = true
	} else {
		a.Version = true
	}
}

func (a *Args) set(st *setting, text string) {
	a.values[st] = value{src: fromFlag, name: "--" + st.flag, text: text}
}

// optionLabel is how an option is named in parse errors: "-p, --port
// <number>".
func optionLabel(st *setting) string {
	label := "--" + st.flag
	if st.short != 0 {
		label = "-" + string(st.short) + ", " + label
	}
	if st.arg != "" {
		label += " " + st.arg
	}
	return label
}

func flagByLong(name string) *setting {
	if name == "" {
		return nil
	}
	for i := range keys {
		if keys[i].flag == name {
			return &keys[i]
		}
	}
	return nil
}

func flagByShort(c byte) *setting {
	for i := range keys {
		if keys[i].short == c {
			return &keys[i]
		}
	}
	return nil
}
