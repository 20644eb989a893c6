import { render } from 'preact'

render(<h1>Unhidra</h1>, document.getElementById('app')!)
