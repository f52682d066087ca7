"""Journey documents as jctl reads them: loading with positions, navigation over states, scalar offsets."""
