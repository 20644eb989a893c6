import { useLayoutEffect, useMemo, useReducer } from 'preact/hooks'
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect, type VirtualizerOptions } from '@tanstack/virtual-core'

// useVirtualizer binds TanStack Virtual's framework-free core to a Preact
// component: the same binding its React adapter makes, written against
// Preact's hooks so the bundle does not carry a React compatibility layer.
type Opts = Pick<VirtualizerOptions<HTMLElement, Element>, 'count' | 'getScrollElement' | 'estimateSize' | 'getItemKey' | 'overscan' | 'paddingStart' | 'paddingEnd'>

export function useVirtualizer(opts: Opts): Virtualizer<HTMLElement, Element> {
  const [, rerender] = useReducer((x: number) => x + 1, 0)
  const full: VirtualizerOptions<HTMLElement, Element> = {
    observeElementRect,
    observeElementOffset,
    scrollToFn: elementScroll,
    onChange: () => rerender(0),
    ...opts,
  }
  const v = useMemo(() => new Virtualizer<HTMLElement, Element>(full), [])
  v.setOptions(full)
  useLayoutEffect(() => v._didMount(), [])
  useLayoutEffect(() => v._willUpdate())
  return v
}
