#include "planter_executor.h"
