package cli

import (
	"os"
	"strings"
	"testing"
)

// TestDocsCoverEverySetting keeps docs/configuration.md in step with the
// settings table.
func TestDocsCoverEverySetting(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	doc := string(data)
	for i := range keys {
		st := &keys[i]
		var names []string
		if st.flag != "" {
			names = append(names, "`--"+st.flag, "`"+st.envName()+"`")
		}
		if st.short != 0 {
			names = append(names, "`-"+string(st.short)+"`")
		}
		if st.key != "" {
			names = append(names, "`"+st.key+"`")
		}
		for _, n := range names {
			if !strings.Contains(doc, n) {
				t.Errorf("docs/configuration.md does not mention %s", n)
			}
		}
	}
}
