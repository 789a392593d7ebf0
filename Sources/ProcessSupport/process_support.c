#include "process_support.h"
