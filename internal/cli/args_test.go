package cli

import (
	"errors"
	"maps"
	"testing"
)

// given flattens parsed options to long name → text for comparison.
func given(a Args) map[string]string {
	out := make(map[string]string)
	for st, v := range a.values {
		out[st.flag] = v.text
	}
	return out
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		args          []string
		want          map[string]string
		help, version bool
	}{
		{name: "nothing", args: nil, want: map[string]string{}},
		{name: "long space", args: []string{"--port", "3000"}, want: map[string]string{"port": "3000"}},
		{name: "long equals", args: []string{"--port=3000"}, want: map[string]string{"port": "3000"}},
		{name: "short space", args: []string{"-p", "3000"}, want: map[string]string{"port": "3000"}},
		{name: "short attached", args: []string{"-p3000"}, want: map[string]string{"port": "3000"}},
		{name: "short equals", args: []string{"-p=3000"}, want: map[string]string{"port": "3000"}},
		{name: "host short", args: []string{"-H", "127.0.0.1"}, want: map[string]string{"host": "127.0.0.1"}},
		{name: "config short", args: []string{"-c", "x.json"}, want: map[string]string{"config": "x.json"}},
		{name: "dash value with equals", args: []string{"--admin-secret=-s3cret"}, want: map[string]string{"admin-secret": "-s3cret"}},
		{name: "empty value with equals", args: []string{"--allowed-origins="}, want: map[string]string{"allowed-origins": ""}},
		{name: "value containing equals", args: []string{"--admin-secret=a=b"}, want: map[string]string{"admin-secret": "a=b"}},
		{name: "last wins", args: []string{"--port", "1", "--port=2", "-p", "3"}, want: map[string]string{"port": "3"}},
		{name: "all value options", args: []string{
			"--port", "1", "--host", "h", "--config", "c", "--name", "n", "--path", "/p",
			"--persistence", "memory", "--data-dir", "d", "--db", "b", "--admin-secret", "s",
			"--allowed-origins", "o", "--max-connections-per-ip", "2", "--max-payload-bytes", "3",
			"--shutdown-grace-ms", "4", "--metrics-addr", ":5", "--log-format", "json",
			"--log-level", "warn", "--slow-consumer-timeout-ms", "6",
		}, want: map[string]string{
			"port": "1", "host": "h", "config": "c", "name": "n", "path": "/p", "persistence": "memory",
			"data-dir": "d", "db": "b", "admin-secret": "s", "allowed-origins": "o",
			"max-connections-per-ip": "2", "max-payload-bytes": "3", "shutdown-grace-ms": "4",
			"metrics-addr": ":5", "log-format": "json", "log-level": "warn", "slow-consumer-timeout-ms": "6",
		}},
		{name: "switches", args: []string{"--auth", "--no-rules", "--audit", "--no-error-details"},
			want: map[string]string{"auth": "true", "no-rules": "true", "audit": "true", "no-error-details": "true"}},
		{name: "help", args: []string{"--help"}, want: map[string]string{}, help: true},
		{name: "help short", args: []string{"-h"}, want: map[string]string{}, help: true},
		{name: "version", args: []string{"--version"}, want: map[string]string{}, version: true},
		{name: "version short", args: []string{"-v"}, want: map[string]string{}, version: true},
		{name: "grouped shorts", args: []string{"-hv"}, want: map[string]string{}, help: true, version: true},
		{name: "group ending in value", args: []string{"-vp", "80"}, want: map[string]string{"port": "80"}, version: true},
		{name: "help with bad values still parses", args: []string{"--port", "abc", "--help"},
			want: map[string]string{"port": "abc"}, help: true},
		{name: "double dash alone", args: []string{"--port", "1", "--"}, want: map[string]string{"port": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := ParseArgs(tt.args)
			if err != nil {
				t.Fatalf("ParseArgs(%q): unexpected error %v", tt.args, err)
			}
			if got := given(a); !maps.Equal(got, tt.want) {
				t.Errorf("ParseArgs(%q) options = %v, want %v", tt.args, got, tt.want)
			}
			if a.Help != tt.help || a.Version != tt.version {
				t.Errorf("ParseArgs(%q) help/version = %v/%v, want %v/%v", tt.args, a.Help, a.Version, tt.help, tt.version)
			}
		})
	}
}

func TestParseArgsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "Unknown option '--bogus'"},
		{[]string{"--bogus=1"}, "Unknown option '--bogus'"},
		{[]string{"--"}, ""},
		{[]string{"--=x"}, "Unknown option '--'"},
		{[]string{"-x"}, "Unknown option '-x'"},
		{[]string{"-hx"}, "Unknown option '-x'"},
		{[]string{"--rules"}, "Unknown option '--rules'"},
		{[]string{"--Port", "1"}, "Unknown option '--Port'"},
		{[]string{"serve"}, "Unexpected argument 'serve'. This command does not take positional arguments"},
		{[]string{"-"}, "Unexpected argument '-'. This command does not take positional arguments"},
		{[]string{"--port", "1", "extra"}, "Unexpected argument 'extra'. This command does not take positional arguments"},
		{[]string{"--", "--port"}, "Unexpected argument '--port'. This command does not take positional arguments"},
		{[]string{"--port"}, "Option '-p, --port <number>' argument missing"},
		{[]string{"-p"}, "Option '-p, --port <number>' argument missing"},
		{[]string{"--name"}, "Option '--name <string>' argument missing"},
		{[]string{"--port", "-5"}, "Option '-p, --port <number>' argument is ambiguous: a value that starts with '-' must be attached, as in '--port=-5'"},
		{[]string{"--host", "--port"}, "Option '-H, --host <address>' argument is ambiguous: a value that starts with '-' must be attached, as in '--host=--port'"},
		{[]string{"--auth=true"}, "Option '--auth' does not take an argument"},
		{[]string{"--no-rules=1"}, "Option '--no-rules' does not take an argument"},
		{[]string{"--audit="}, "Option '--audit' does not take an argument"},
		{[]string{"--no-error-details=false"}, "Option '--no-error-details' does not take an argument"},
		{[]string{"--help=1"}, "Option '--help' does not take an argument"},
		{[]string{"--version=yes"}, "Option '--version' does not take an argument"},
		{[]string{"--help", "--bogus"}, "Unknown option '--bogus'"},
	}
	for _, tt := range tests {
		_, err := ParseArgs(tt.args)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ParseArgs(%q): unexpected error %v", tt.args, err)
			}
			continue
		}
		var argErr *ArgError
		if !errors.As(err, &argErr) {
			t.Errorf("ParseArgs(%q) = %v, want *ArgError %q", tt.args, err, tt.want)
			continue
		}
		if argErr.Msg != tt.want {
			t.Errorf("ParseArgs(%q) error\n got %q\nwant %q", tt.args, argErr.Msg, tt.want)
		}
	}
}
