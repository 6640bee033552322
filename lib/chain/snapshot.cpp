// Implementation in progress (issue 5).
#include "chain/snapshot.h"
