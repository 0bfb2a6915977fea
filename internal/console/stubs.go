package console

import "errors"

// errNotBuilt answers the pages still under construction (stubs_*.go); it
// goes when the last of them lands.
var errNotBuilt = errors.New("this page is not built yet")
