/* Editor side of the ScriptHammer blocks (rendered on the server; no build step needed). */
(function (wp) {
  'use strict';
  if (!wp || !wp.blocks) { return; }
  var el = wp.element.createElement;
  var __ = wp.i18n.__;
  var InspectorControls = wp.blockEditor.InspectorControls;
  var useBlockProps = wp.blockEditor.useBlockProps;
  var PanelBody = wp.components.PanelBody;
  var TextControl = wp.components.TextControl;
  var ServerSideRender = wp.serverSideRender;

  function edit(name, fields) {
    return function (props) {
      var controls = fields.map(function (f) {
        return el(TextControl, {
          key: f.key, label: f.label, type: 'number', value: props.attributes[f.key] || '',
          onChange: function (v) { var a = {}; a[f.key] = v === '' ? 0 : Number(v); props.setAttributes(a); }
        });
      });
      return el('div', useBlockProps(),
        el(InspectorControls, null, el(PanelBody, { title: __('Settings', 'scripthammer') }, controls)),
        el(ServerSideRender, { block: name, attributes: props.attributes }));
    };
  }

  wp.blocks.registerBlockType('scripthammer/player', {
    apiVersion: 2,
    title: __('ScriptHammer player', 'scripthammer'),
    icon: 'format-audio',
    category: 'media',
    attributes: { track: { type: 'integer', default: 0 }, album: { type: 'integer', default: 0 } },
    edit: edit('scripthammer/player', [
      { key: 'track', label: __('Track (post ID)', 'scripthammer') },
      { key: 'album', label: __('Album (post ID)', 'scripthammer') }]),
    save: function () { return null; }
  });

  wp.blocks.registerBlockType('scripthammer/live', {
    apiVersion: 2,
    title: __('ScriptHammer live player', 'scripthammer'),
    icon: 'microphone',
    category: 'media',
    attributes: { session: { type: 'integer', default: 0 } },
    edit: edit('scripthammer/live', [{ key: 'session', label: __('Live session (companion ID)', 'scripthammer') }]),
    save: function () { return null; }
  });

  wp.blocks.registerBlockType('scripthammer/tip-jar', {
    apiVersion: 2,
    title: __('ScriptHammer tip jar', 'scripthammer'),
    icon: 'heart',
    category: 'widgets',
    attributes: { amount: { type: 'number', default: 5 } },
    edit: edit('scripthammer/tip-jar', [{ key: 'amount', label: __('Suggested amount', 'scripthammer') }]),
    save: function () { return null; }
  });
}(window.wp));
